using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Tests.Resilience;

/// <summary>What lowers an origin's adaptive rate: a 429, a 503 with Retry-After; not a plain 503 (that is an outage, not a rate).</summary>
public sealed class AdaptiveRateSignalTests
{
    [Theory]
    [InlineData(429, null, true)]
    [InlineData(503, "0", true)]
    [InlineData(503, null, false)]
    [InlineData(500, null, false)]
    public async Task The_rate_falls_only_when_the_server_says_the_client_is_over_its_rate(int status, string? retryAfter, bool lowered)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/r", async ctx =>
        {
            if (retryAfter is not null)
            {
                ctx.Response.Headers.RetryAfter = retryAfter;
            }

            await TestUpstream.Write(ctx, status, null);
        });
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1)
            .WithRateLimit(20).WithAdaptiveRate(minRate: 1, maxRate: 40));
        var events = Events.Collect<AdaptiveRateChanged>(net.System);
        await net.Client.SendAsync(NetRequest.Get("api", "/ok")); // the origin exists, its rate is shown

        // A failure's outcome is delivered by the host actor after it took the attempt's sample: the rate is set by now.
        await Assert.ThrowsAnyAsync<NetException>(() => net.Client.SendAsync(NetRequest.Get("api", "/r")));

        var metrics = (NetActors.Telemetry.NetMetrics)net.Services.GetService(typeof(NetActors.Telemetry.NetMetrics))!;
        var rate = (double)metrics.AdaptiveData()["rate-limit:" + Origins.KeyOf(upstream.BaseAddress)];
        Assert.Equal(lowered ? 17 : 20, rate);   // 20/s × the reference decrease-factor 0.85
        if (lowered)
        {
            await Eventually.Assert(() => Assert.Contains(events, e => e.Current == 17 && e.Previous == 20));
        }
    }
}
