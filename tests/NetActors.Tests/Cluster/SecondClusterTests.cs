using System.Net;
using NetActors.Auth;
using NetActors.Errors;
using NetActors.Hosting;

namespace NetActors.Tests.Cluster;

/// <summary>
/// A first seed restarted with only itself as seed forms a second cluster beside the first, with a second
/// singleton of the realm on the same shared token store. The fence lets only one of them hold the session: the
/// one that claimed it last. The other steps down instead of presenting the rotated refresh token.
/// </summary>
public sealed class SecondClusterTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string Store => _temp.Path;

    [Fact]
    public async Task A_second_cluster_on_the_same_store_takes_the_session_and_the_first_clusters_singleton_steps_down_without_reusing_the_refresh_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true, RevokeFamilyOnReuse = true }.Install(upstream);
        var logs = new LogCapture();
        void Api(NetActorsBuilder net) => ClusterAuthTests.Api(net, upstream, realm => realm.WithFileTokenStore(Store));
        await using var first = await TestCluster.StartAsync(1, Api, logs: logs);
        await first[0].Client.SignInAsync("api", tokens.SignIn());
        Assert.Equal(HttpStatusCode.OK, (await first[0].Client.SendAsync(NetRequest.Get("api", "/api/first"))).StatusCode);

        // The second cluster's singleton loads the session and claims the next incarnation.
        await using var second = await TestCluster.StartAsync(1, Api);
        await Eventually.Assert(() => Assert.Equal(2,
            new FileTokenStore(Store).LoadFencedAsync("api", default).GetAwaiter().GetResult().Fence.Incarnation));

        tokens.ExpireNow();
        Assert.Equal(HttpStatusCode.OK, (await second[0].Client.SendAsync(NetRequest.Get("api", "/api/second"))).StatusCode);
        var stale = await Outcomes.Of(first[0].Client.SendAsync(NetRequest.Get("api", "/api/stale")));

        Assert.IsType<NetRuntimeException>(stale.Error);
        Assert.Contains("steps down", logs.All);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal(0, tokens.FamilyRevocations);
        tokens.ExpireNow();
        Assert.Equal(HttpStatusCode.OK, (await second[0].Client.SendAsync(NetRequest.Get("api", "/api/again"))).StatusCode);
        Assert.Equal(2, tokens.RefreshCalls);
    }

    public void Dispose()
    {
        _temp.Dispose();
    }
}
