using Microsoft.Extensions.DependencyInjection;
using NetActors.Configuration;
using NetActors.Host.Load;
using NetActors.Telemetry;

namespace NetActors.Tests.Host;

/// <summary>The host's progress line shows an origin's adaptive limit and rate, read from the meter, only when it has them.</summary>
public sealed class LiveProgressTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_progress_line_shows_the_adaptive_limit_and_rate_only_for_an_origin_that_has_them(bool adaptive)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/r", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c =>
        {
            c.WithMaxConnections(8);
            if (adaptive)
            {
                c.WithAdaptiveConcurrency(initialLimit: 5).WithRateLimit(30).WithAdaptiveRate(minRate: 1);
            }
        });
        using var watch = new MetricsWatch(net.Services.GetRequiredService<NetMetrics>().Meter);
        await net.Client.SendAsync(NetRequest.Get("api", "/r"));

        watch.Sample();
        var part = LiveProgress.Origin("api", watch.Snapshot().Origins.GetValueOrDefault(Origins.KeyOf(upstream.BaseAddress)));

        if (adaptive)
        {
            // Its first window measures the baseline at min-limit (1); the rate starts at the configured 30/s.
            Assert.Matches(@"^ api \d+/\d+ \(limit 1\) \(rate 30/s\)$", part);
        }
        else
        {
            Assert.Matches(@"^ api \d+/\d+$", part);
        }
    }
}
