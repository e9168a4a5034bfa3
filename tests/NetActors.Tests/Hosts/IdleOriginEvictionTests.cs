using System.Net;
using NetActors.Configuration;

namespace NetActors.Tests.Hosts;

[Collection(TimingCollection.Name)]
public sealed class IdleOriginEvictionTests
{
    private const int Visited = 1000;

    [Fact]
    public async Task A_thousand_origins_visited_once_are_evicted_after_the_idle_timeout_and_come_back_on_demand()
    {
        // One server on 1,001 ports: the client's own origin and a thousand others.
        await using var upstream = await TestUpstream.StartAsync(ports: Visited + 1);
        upstream.Respond("*", 200, "{}");
        // A short idle timeout (an origin is idle only once it holds no request at all), and connections idle no
        // longer; timeouts generous enough for a thousand first connections on a busy machine.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .Set("idle-origin-timeout", "3s")
            .WithResponseTimeout(TimeSpan.FromSeconds(10))
            .WithTotalTimeout(TimeSpan.FromSeconds(20))
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50))
            .Set("pooled-connection-idle-timeout", "1s"));
        using var metrics = new MetricsCapture(net.Services);
        var others = upstream.BaseAddresses.Skip(1).ToList();
        var visited = others.Select(Origins.KeyOf).ToHashSet();

        foreach (var batch in others.Chunk(50))
        {
            var responses = await Task.WhenAll(batch.Select(b => net.Client.SendAsync(NetRequest.Get("api", new Uri(b, "once").ToString()))));
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        }

        Assert.Equal(Visited, upstream.Count("/once"));
        // Each visited origin has its gauge series...
        Assert.Equal(visited, OriginSeries(metrics).Intersect(visited).ToHashSet());

        // ...until it has been idle for the timeout: then its host actor, handler, settings and series are gone.
        await Eventually.Assert(() => Assert.Empty(OriginSeries(metrics).Intersect(visited)), TimeSpan.FromSeconds(30));

        // A later request to an evicted origin recreates what it needs.
        var again = others[Visited / 2];
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", new Uri(again, "again").ToString()))).StatusCode);
        Assert.Contains(Origins.KeyOf(again), OriginSeries(metrics));
    }

    /// <summary>The origins the per-origin gauges report now.</summary>
    private static HashSet<string> OriginSeries(MetricsCapture metrics)
    {
        var before = metrics.All.Count;
        metrics.Sample();
        return metrics.All.Skip(before)
            .Where(m => m.Instrument.StartsWith("netactors.origin.", StringComparison.Ordinal))
            .Select(m => (string?)m.Tags.GetValueOrDefault("netactors.origin"))
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
    }
}
