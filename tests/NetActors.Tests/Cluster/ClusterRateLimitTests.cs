using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Hosting;

namespace NetActors.Tests.Cluster;

/// <summary>An origin's rate limit in cluster mode is the fleet's: the members divide it among themselves.</summary>
[Collection(TimingCollection.Name)]
public sealed class ClusterRateLimitTests
{
    [Fact]
    public async Task A_fleet_rate_of_60_per_second_over_three_loaded_members_reaches_the_upstream_at_most_10_percent_faster()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/warm/*", 200, "{}");
        var arrivals = new Arrivals().Install(upstream, "/r/*");
        await using var cluster = await TestCluster.StartAsync(3, net => net.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithQueueCapacity(1000).WithRateLimit(60, burst: 6)));
        // Each member counts the three members before it takes its share (a third of the rate and of the burst).
        await Eventually.Assert(() => Assert.All(cluster.Members,
            m => Assert.Equal(3, m.Services.GetRequiredService<NetActorsRuntime>().Fleet.Members)));
        await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 5, "/warm"));

        // Load: every member has far more to send than its share allows.
        var responses = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 60, "/r"));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.InRange(arrivals.PerSecond, 40, 66);   // the fleet's rate (+10%); three full rates would give 180/s
        // No one-second window saw more than the rate plus the fleet's burst.
        Assert.InRange(arrivals.MostInOneSecond(), 1, 60 + 6);
    }
}
