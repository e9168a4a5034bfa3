using Microsoft.Extensions.Logging;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's request log (category <c>NetActors.Requests</c>). Every URL in it has been redacted;
/// header values are never logged.
/// </summary>
internal sealed partial class RequestLog(ILogger logger)
{
    public const string Category = "NetActors.Requests";

    public bool IsEnabled(LogLevel level) => logger.IsEnabled(level);

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug,
        Message = "{Method} {Url} -> {Status} in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client})")]
    public partial void Completed(string method, string url, int status, double elapsedMs, int attempt, string client);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "{Method} {Url} failed in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client}): {Error}")]
    public partial void Failed(string method, string url, double elapsedMs, int attempt, string client, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug,
        Message = "{Method} {Url} -> {Status} in {ElapsedMs:0.0} ms (attempt {Attempt}, client {Client}): {Error}")]
    public partial void Rejected(string method, string url, int status, double elapsedMs, int attempt, string client, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "{Method} {Url}: retrying in {DelayMs:0} ms after attempt {Attempt} ({Reason})")]
    public partial void Retrying(string method, string url, double delayMs, int attempt, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug,
        Message = "{Method} {Url}: following redirect {Status} to {Location}")]
    public partial void Redirecting(string method, string url, int status, string location);
}
