using Microsoft.Extensions.Logging;
using NetActors.Errors;
using NetActors.Telemetry;
using NetActors.Tests.Auth;

namespace NetActors.Tests.Telemetry;

/// <summary>Repeated identical failures are logged once per interval, with the count of those not logged.</summary>
public sealed class RepeatedFailureLogTests
{
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private static List<string> Warnings(LogCapture logs) =>
        [.. logs.Lines.Where(l => l.StartsWith("Warning NetActors.Requests", StringComparison.Ordinal))];

    [Fact]
    public void The_same_failure_of_one_client_is_logged_once_per_interval_then_with_a_count()
    {
        var logs = new LogCapture();
        var time = new ManualTime();
        var log = new RequestLog(logs.CreateLogger(RequestLog.Category), time, TimeSpan.FromSeconds(10));
        var info = new NetRequestInfo("api", "GET", "https://api.example/x", 1);

        for (var i = 0; i < 100; i++)
        {
            log.Failed("GET", $"https://api.example/items/{i}", 1, 1, "api", new SessionExpiredException(info, "api", "terminated"));
        }

        log.Failed("GET", "https://api.example/other", 1, 1, "api", new NetworkException(info, "connection refused", null));
        log.Failed("GET", "https://api.example/files", 1, 1, "files", new SessionExpiredException(info, "api", "terminated"));
        Assert.Equal(3, Warnings(logs).Count);   // one per client and kind of failure

        time.Advance(TimeSpan.FromSeconds(9));
        log.Failed("GET", "https://api.example/items/x", 1, 1, "api", new SessionExpiredException(info, "api", "terminated"));
        Assert.Equal(3, Warnings(logs).Count);   // still within the interval

        time.Advance(TimeSpan.FromSeconds(1));
        log.Failed("GET", "https://api.example/items/y", 1, 1, "api", new SessionExpiredException(info, "api", "terminated"));
        var last = Warnings(logs)[^1];
        Assert.Equal(4, Warnings(logs).Count);
        Assert.Contains("100 more SessionExpiredException failures in the last 10 s were not logged", last);
        Assert.Contains("Suppressed=100", logs.All);   // a named property, not a positional {0}
    }

    [Fact]
    public async Task After_a_session_ends_a_burst_of_failing_requests_logs_one_warning_not_one_per_request()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var logs = new LogCapture();
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true, logs: logs);
        await net.Client.TerminateSessionAsync("api");

        var failures = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Assert.ThrowsAsync<SessionExpiredException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/api/items/{i}")))));

        Assert.Equal(40, failures.Length);
        Assert.Single(Warnings(logs), l => l.Contains("SessionExpired", StringComparison.Ordinal) || l.Contains("session", StringComparison.Ordinal));
    }
}
