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
}
