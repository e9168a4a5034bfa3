using System.Net;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Tests.Resilience;

[Collection(TimingCollection.Name)]
public sealed class RateAndCircuitTests
{
    [Fact]
    public async Task A_rate_limit_of_50_per_second_holds_within_10_percent_and_nothing_fails()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/warm", 200, "{}");
        var arrivals = new Arrivals().Install(upstream, "/r");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRateLimit(50, burst: 10));
        // Warm up first (a cold process shows a pause on first use, see the README's performance notes).
        await Task.WhenAll(Enumerable.Range(0, 30).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/warm?i={i}"))));
        arrivals.Clear();

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/r?i={i}"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.InRange(arrivals.PerSecond, 45, 55);
        // No one-second window ever saw more than the rate plus the burst the bucket allows.
        Assert.InRange(arrivals.MostInOneSecond(), 1, 50 + 10);
    }

    [Fact]
    public async Task The_circuit_opens_fails_fast_and_recovers_through_half_open()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var healthy = false;
        upstream.Map("*", ctx => healthy ? TestUpstream.Write(ctx, 200, "{}") : TestUpstream.Write(ctx, 500, null));
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxAttempts(1)
            .WithCircuitBreaker(0.5, 10, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2)));
        var events = Events.Collect<CircuitStateChanged>(net.System);

        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/f{i}")));
        }

        var seenBefore = upstream.Seen.Count;
        var open = await Assert.ThrowsAsync<CircuitOpenException>(() => net.Client.SendAsync(NetRequest.Get("api", "/fast")));
        Assert.Equal(seenBefore, upstream.Seen.Count);   // failed fast: nothing reached the upstream
        Assert.True(open.RetryIn > TimeSpan.Zero);

        healthy = true;
        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == CircuitState.HalfOpen));
        var probe = await net.Client.SendAsync(NetRequest.Get("api", "/probe"));
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/after"));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);

        var states = events.Select(e => e.Current).ToList();
        Assert.Equal([CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed], states);
        Assert.All(events, e => Assert.Equal(NetActors.Configuration.Origins.KeyOf(upstream.BaseAddress), e.Origin));
    }

}
