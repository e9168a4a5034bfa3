using NetActors.Configuration;

namespace NetActors.Tests.Cluster;

public sealed class ClusterConfigurationTests
{
    [Fact]
    public async Task Cluster_mode_in_a_process_that_is_not_a_cluster_member_stops_startup_naming_the_key()
    {
        using var host = NetHost.Build(n => n.WithHocon("netactors.cluster.enabled = on").AddClient("api"));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.cluster.enabled", error.Key);
        Assert.Contains("WithNetActorsCluster", error.Message);
    }

    [Fact]
    public async Task A_session_call_timeout_shorter_than_the_token_request_timeout_stops_startup()
    {
        using var host = NetHost.Build(n => n
            .WithHocon("netactors.cluster { token-request-timeout = 5s, session-call-timeout = 2s }").AddClient("api"));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.cluster.session-call-timeout", error.Key);
    }

    [Fact]
    public async Task The_default_handover_of_a_crashed_member_fits_well_inside_the_default_total_timeout()
    {
        var logs = new LogCapture();
        await using var member = await TestCluster.StartMemberAsync(n => n.AddClient("api", c => c
            .WithBaseAddress("http://127.0.0.1:1").WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))), logs: logs);

        var budget = NetActors.Cluster.HandoverBudget.Of(member.System);

        Assert.Equal(TimeSpan.FromSeconds(7), budget.StableAfter);
        Assert.Equal(TimeSpan.FromSeconds(3), budget.RemovalMargin);
        Assert.InRange(budget.Estimate, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.DoesNotContain("does not fit in", logs.All);
    }

    [Fact]
    public async Task A_handover_that_cannot_fit_in_the_total_timeout_stops_startup_naming_the_keys_when_asked_to()
    {
        // Akka's own defaults: stable-after 20 s, and the removal margin the same again: about 47 s.
        var start = TestCluster.StartMemberAsync(n => n.AddClient("api", c => c
                .WithBaseAddress("http://127.0.0.1:1").WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))),
            cluster: o => { o.SplitBrainStableAfter = TimeSpan.FromSeconds(20); o.DownRemovalMargin = null; },
            hocon: "netactors.cluster.handover-check = error");

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => start);

        Assert.Equal("akka.cluster.split-brain-resolver.stable-after", error.Key);
        Assert.Contains("akka.cluster.down-removal-margin", error.Message);
        Assert.Contains("netactors.clients.api.total-timeout", error.Message);
    }

    [Fact]
    public async Task A_handover_that_cannot_fit_in_the_total_timeout_is_a_warning_naming_the_keys_by_default()
    {
        var logs = new LogCapture();
        await using var member = await TestCluster.StartMemberAsync(n => n.AddClient("api", c => c
                .WithBaseAddress("http://127.0.0.1:1").WithTotalTimeout(TimeSpan.FromSeconds(10))
                .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))), logs: logs);

        await Eventually.Assert(() => Assert.Contains("does not fit in netactors.clients.api.total-timeout (10 s)", logs.All));
        Assert.Contains("akka.cluster.split-brain-resolver.stable-after 7 s", logs.All);
    }

    [Fact]
    public async Task An_unknown_handover_check_stops_startup_naming_the_key()
    {
        using var host = NetHost.Build(n => n.WithHocon("netactors.cluster.handover-check = maybe").AddClient("api"));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.cluster.handover-check", error.Key);
    }
}
