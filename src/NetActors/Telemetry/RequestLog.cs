using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's request log (category <c>NetActors.Requests</c>). Every URL in it has been redacted;
/// header values are never logged. Failures of one kind (client and exception type) are logged once per
/// <see cref="RepeatInterval"/>: the first in full, the next one after the interval with the count of those not
/// logged in between, so that an outage or an ended session gives a line every interval, not one per request.
/// </summary>
internal sealed partial class RequestLog(ILogger logger, TimeProvider? time = null, TimeSpan? repeatInterval = null)
{
    public const string Category = "NetActors.Requests";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<(string Client, Type Error), Repeats> _repeats = new();

    /// <summary>How often one kind of failure is logged at most.</summary>
    public TimeSpan RepeatInterval { get; } = repeatInterval ?? TimeSpan.FromSeconds(10);

    public bool IsEnabled(LogLevel level) => logger.IsEnabled(level);

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug,
        Message = "{Method} {Url} -> {Status} in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client})")]
    public partial void Completed(string method, string url, int status, double elapsedMs, int attempt, string client);

    /// <summary>A request failed: logged unless the same kind of failure of the same client was logged within the interval.</summary>
    public void Failed(string method, string url, double elapsedMs, int attempt, string client, Exception error)
    {
        var repeats = _repeats.GetOrAdd((client, error.GetType()), static _ => new Repeats());
        var now = _time.GetTimestamp();
        long suppressed;
        lock (repeats)
        {
            if (repeats.LastLogged is { } last && _time.GetElapsedTime(last, now) < RepeatInterval)
            {
                repeats.Suppressed++;
                return;
            }

            suppressed = repeats.Suppressed;
            repeats.LastLogged = now;
            repeats.Suppressed = 0;
        }

        if (suppressed == 0)
        {
            FailedOnce(method, url, elapsedMs, attempt, client, error.Message);
        }
        else
        {
            FailedAgain(method, url, elapsedMs, attempt, client, error.Message, suppressed, error.GetType().Name,
                RepeatInterval.TotalSeconds);
        }
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "{Method} {Url} failed in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client}): {Error}")]
    private partial void FailedOnce(string method, string url, double elapsedMs, int attempt, string client, string error);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "{Method} {Url} failed in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client}): {Error} " +
                  "({Suppressed} more {ErrorType} failures in the last {IntervalSeconds:0} s were not logged)")]
    private partial void FailedAgain(string method, string url, double elapsedMs, int attempt, string client, string error,
        long suppressed, string errorType, double intervalSeconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug,
        Message = "{Method} {Url} -> {Status} in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client}): {Error}")]
    public partial void Rejected(string method, string url, int status, double elapsedMs, int attempt, string client, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "{Method} {Url}: retrying in {DelayMs:0} ms after attempt {Attempt} ({Reason})")]
    public partial void Retrying(string method, string url, double delayMs, int attempt, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug,
        Message = "{Method} {Url}: following redirect {Status} to {Location}")]
    public partial void Redirecting(string method, string url, int status, string location);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information,
        Message = "Adaptive concurrency limit for {Origin}: {Previous} -> {Current} ({Algorithm}, max-connections {MaxConnections})")]
    public partial void LimitChanged(string origin, int previous, int current, string algorithm, int maxConnections);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information,
        Message = "Adaptive rate for {Origin}: {Previous:0.##} -> {Current:0.##} permits/s (within {Min:0.##}..{Max:0.##})")]
    public partial void RateChanged(string origin, double previous, double current, double min, double max);

    private sealed class Repeats
    {
        public long? LastLogged;
        public long Suppressed;
    }
}
