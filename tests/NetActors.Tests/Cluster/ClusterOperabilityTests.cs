using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NetActors.Cluster;
using NetActors.Errors;

namespace NetActors.Tests.Cluster;

/// <summary>What an operator can see and expect of a member: where the singletons run, the shares, and a typed error when the member is alone.</summary>
public sealed class ClusterOperabilityTests
{
    [Fact]
    public async Task A_member_that_has_not_joined_fails_authenticated_requests_and_sign_ins_with_ClusterUnavailableException_after_the_short_wait()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var alone = await TestCluster.StartMemberAsync(net => ClusterAuthTests.Api(net, upstream),
            services: s => s.AddHealthChecks().AddNetActorsCluster(), hocon: "netactors.cluster.not-joined-timeout = 1s");

        var waited = Stopwatch.StartNew();
        var first = await Assert.ThrowsAsync<ClusterUnavailableException>(() => alone.Client.SendAsync(NetRequest.Get("api", "/api/a")));
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), $"failed after {waited.Elapsed}, not after the short wait");
        Assert.Equal("api", first.Realm);
        Assert.Contains("has not joined a cluster", first.Message);

        // Until it joins, such calls fail at once, and nothing is left behind that could be applied later.
        await Assert.ThrowsAsync<ClusterUnavailableException>(() => alone.Client.SendAsync(NetRequest.Get("api", "/api/b")));
        await Assert.ThrowsAsync<ClusterUnavailableException>(() => alone.Client.SignInAsync("api", tokens.SignIn()));
        Assert.Equal(0, tokens.Authorized + tokens.Unauthorized);

        var status = NetActorsClusterStatus.Get(alone.System);
        Assert.False(status.Joined);
        Assert.Null(status.SingletonMember);
        var health = await alone.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Contains("has not joined a cluster", health.Entries["netactors-cluster"].Description);
    }

    [Fact]
    public async Task Every_member_says_which_member_runs_the_realms_singletons_and_how_many_share_the_rates()
    {
        await using var upstream = await TestUpstream.StartAsync();
        new TokenServer().Install(upstream);
        await using var cluster = await TestCluster.StartAsync(3, net => ClusterAuthTests.Api(net, upstream),
            services: s => s.AddHealthChecks().AddNetActorsCluster());
        var oldest = Akka.Cluster.Cluster.Get(cluster[0].System).SelfAddress;

        await Eventually.Assert(() => Assert.All(cluster.Members, m =>
        {
            var status = NetActorsClusterStatus.Get(m.System);
            Assert.True(status.Joined);
            Assert.Equal(oldest, status.SingletonMember);
            Assert.Equal(3, status.ShareCount);
        }));
        Assert.Equal([true, false, false], cluster.Members.Select(m => NetActorsClusterStatus.Get(m.System).RunsSingletons));
        var health = await cluster[2].Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Equal(oldest.ToString(), health.Entries["netactors-cluster"].Data["singletons"]);

        // The oldest leaves: the next one runs the singletons, and two share the rates.
        await cluster.StopAsync(cluster[0]);
        var next = Akka.Cluster.Cluster.Get(cluster[0].System).SelfAddress;
        await Eventually.Assert(() => Assert.All(cluster.Members, m =>
        {
            Assert.Equal(next, NetActorsClusterStatus.Get(m.System).SingletonMember);
            Assert.Equal(2, NetActorsClusterStatus.Get(m.System).ShareCount);
        }), TimeSpan.FromSeconds(20));
    }
}
