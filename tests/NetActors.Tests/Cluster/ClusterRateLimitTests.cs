using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Hosting;

namespace NetActors.Tests.Cluster;

/// <summary>An origin's rate limit in cluster mode is the fleet's: the members divide it among themselves, exactly.</summary>
[Collection(TimingCollection.Name)]
public sealed class ClusterRateLimitTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task A_fleet_rate_of_30_per_second_over_three_members_is_met_within_3_percent_and_again_after_a_member_leaves()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/warm/*", 200, "{}");
        var arrivals = new SteadyArrivals().Install(upstream, "/r/*");
        // The default burst (a tenth of the rate: 3) gives each of three members a one-permit share.
        await using var cluster = await TestCluster.StartAsync(3, net => net.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithQueueCapacity(1000).WithRateLimit(30)));
        await WaitForShares(cluster, 3);
        await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 2, "/warm"));

        // Every member has far more to send than its share allows: about 6 s at the fleet's rate.
        var before = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 60, "/r/three"));
        Assert.All(before, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var threeMembers = arrivals.SteadyRate();

        // One member leaves: the two that stay take half each, and the fleet's rate is the same.
        await cluster.StopAsync(cluster[2]);
        await WaitForShares(cluster, 2);
        arrivals.Clear();
        var after = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 80, "/r/two"));
        Assert.All(after, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var twoMembers = arrivals.SteadyRate();

        output.WriteLine($"fleet rate at the upstream: {threeMembers:0.00}/s over three members, {twoMembers:0.00}/s over two after one left");
        Assert.InRange(threeMembers, 30 * 0.97, 30 * 1.03);
        Assert.InRange(twoMembers, 30 * 0.97, 30 * 1.03);
    }

    private static Task WaitForShares(TestCluster cluster, int members) =>
        Eventually.Assert(() => Assert.All(cluster.Members,
            m => Assert.Equal(members, m.Services.GetRequiredService<NetActorsRuntime>().Fleet.Members)), TimeSpan.FromSeconds(30));

    /// <summary>
    /// Arrivals at an upstream path, and their rate in the steady part of a load: from one second after the first
    /// arrival to one second before the last (the start has the burst; at the end members finish one by one).
    /// </summary>
    private sealed class SteadyArrivals
    {
        private readonly ConcurrentQueue<long> _stamps = new();

        public SteadyArrivals Install(TestUpstream upstream, string path)
        {
            upstream.Map(path, ctx =>
            {
                _stamps.Enqueue(Stopwatch.GetTimestamp());
                return TestUpstream.Write(ctx, 200, "{}");
            });
            return this;
        }

        public void Clear() => _stamps.Clear();

        public double SteadyRate()
        {
            var stamps = _stamps.Order().ToArray();
            var from = stamps[0] + Stopwatch.Frequency;
            var to = stamps[^1] - Stopwatch.Frequency;
            Assert.True(to > from, "the load was too short to have a steady part");
            var first = stamps.First(s => s >= from);
            var last = stamps.Last(s => s <= to);
            var inside = stamps.Count(s => s >= first && s <= last);
            return (inside - 1) / Stopwatch.GetElapsedTime(first, last).TotalSeconds;
        }
    }
}
