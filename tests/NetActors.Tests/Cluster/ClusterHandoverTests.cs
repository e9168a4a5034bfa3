using System.Net;
using Akka.Cluster;
using NetActors.Errors;

namespace NetActors.Tests.Cluster;

/// <summary>
/// The member that runs the realm's singleton goes away in the middle of a burst: the next oldest member starts
/// the TokenActor, which loads the session from the token store (the file store, shared by members on one
/// machine), and carries on. Every request gets its response or a typed error; none hangs.
/// </summary>
public sealed class ClusterHandoverTests : IDisposable
{
    private readonly string _store = Path.Combine(Path.GetTempPath(), "netactors-cluster-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task A_graceful_handover_while_a_rotating_refresh_is_on_the_wire_keeps_the_session_and_refreshes_once()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokens = new TokenServer { Rotate = true }.Install(upstream);
        var logs = new LogCapture();
        await using var cluster = await TestCluster.StartAsync(3,
            net => ClusterAuthTests.Api(net, upstream, realm => realm.WithFileTokenStore(_store)), logs: logs);
        await cluster[1].Client.SignInAsync("api", tokens.SignIn());
        await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members.Skip(1), 3, "/api/warm"));
        tokens.BeforeRefresh = async _ =>
        {
            arrived.TrySetResult();
            await release.Task; // the server rotates the refresh token whether or not the caller is still there
        };

        tokens.ExpireNow();
        var during = ClusterAuthTests.Burst(cluster.Members.Skip(1), 3, "/api/during");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var leaving = cluster.StopAsync(cluster[0]); // the oldest member: the realm's singleton runs there
        await Eventually.Assert(() => Assert.Contains("handing over once the refresh on the wire has ended", logs.All),
            TimeSpan.FromSeconds(20));
        release.TrySetResult();
        await leaving;

        var outcomes = await Task.WhenAll(during.Select(Outcomes.Of)).WaitAsync(TimeSpan.FromSeconds(40));
        Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.OK, o.Response?.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls); // the next singleton loaded the rotated token: no second refresh, no logout
    }

    [Fact]
    public async Task When_the_singletons_member_leaves_during_a_burst_the_next_member_takes_over_and_no_request_hangs()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var tokens = new TokenServer { ProtectedHandler = ctx => Gated(gate, ctx) }.Install(upstream);
        var logs = new LogCapture();
        await using var cluster = await TestCluster.StartAsync(3,
            net => ClusterAuthTests.Api(net, upstream, realm => realm.WithFileTokenStore(_store)), logs: logs);
        var oldest = cluster[0];
        var removed = Events.Collect<ClusterEvent.MemberRemoved>(cluster[1].System);
        var session = tokens.SignIn();
        await cluster[1].Client.SignInAsync("api", session);

        // Each member has 6 requests on the wire (its cap) and 24 queued when the singleton's member leaves.
        var burst = ClusterAuthTests.Burst(cluster.Members, 30, "/api/burst");
        await gate.WaitForArrivalsAsync(3 * 6);
        tokens.ExpireNow();   // the queued requests will meet a 401 and need a refresh, during the handover
        var leaving = cluster.StopAsync(oldest);
        gate.Open();
        await leaving;

        var outcomes = await Task.WhenAll(burst.Select(Outcomes.Of)).WaitAsync(TimeSpan.FromSeconds(40));
        // The members that stayed: every request succeeded. The one that left: each finished or failed typed.
        Assert.All(outcomes.Skip(30), o => Assert.Equal(HttpStatusCode.OK, o.Response?.StatusCode));
        Assert.All(outcomes.Take(30), o => Assert.True(o.Response?.StatusCode == HttpStatusCode.OK || o.Error is NetShutdownException,
            $"unexpected outcome: {o.Error?.GetType().Name}: {o.Error?.Message}"));
        Assert.Equal(1, tokens.RefreshCalls);
        // It left gracefully (Leaving, Exiting, Removed), as a stopping host does; nobody had to down it.
        await Eventually.Assert(() => Assert.Equal(MemberStatus.Exiting, Assert.Single(removed).PreviousStatus));

        // The next expiry is refreshed once, by the singleton on its new member.
        tokens.ExpireNow();
        var next = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 20, "/api/next"));
        Assert.All(next, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(2, tokens.RefreshCalls);

        // Tokens crossed members (and some messages met a stopped singleton): no log line shows one.
        var all = logs.All;
        Assert.Contains("handing over to another cluster member", all);
        foreach (var secret in tokens.BearersSeen.Append(session.AccessToken).Append(session.RefreshToken!).Distinct())
        {
            Assert.DoesNotContain(secret, all);
        }
    }

    [Fact]
    public async Task When_the_singletons_member_dies_the_survivors_down_it_and_their_waiting_requests_get_a_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        // A member that dies leaves nothing behind: its actor system stops without leaving the cluster.
        await using var cluster = await TestCluster.StartAsync(3,
            net => ClusterAuthTests.Api(net, upstream, realm => realm.WithFileTokenStore(_store)),
            cluster: o => o.SplitBrainStableAfter = TimeSpan.FromSeconds(1),
            hocon: "akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var dead = cluster[0];
        var survivors = cluster.Members.Skip(1).ToList();
        var removed = Events.Collect<ClusterEvent.MemberRemoved>(survivors[0].System);
        await survivors[0].Client.SignInAsync("api", tokens.SignIn());
        await Task.WhenAll(ClusterAuthTests.Burst(survivors, 5, "/api/warm"));

        await dead.System.Terminate();
        tokens.ExpireNow();
        // These wait for a token while the singleton is gone: the survivors' realm clients ask again until the
        // split-brain resolver has downed the dead member and the singleton runs on the next oldest.
        var responses = await Task.WhenAll(ClusterAuthTests.Burst(survivors, 30, "/api/after")).WaitAsync(TimeSpan.FromSeconds(40));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        // The split-brain resolver (keep-majority: two of three) downed it.
        await Eventually.Assert(() => Assert.Equal(MemberStatus.Down, Assert.Single(removed).PreviousStatus));
        await cluster.WaitUntilUpAsync(2, survivors);
    }

    private static async Task Gated(Gate gate, Microsoft.AspNetCore.Http.HttpContext ctx)
    {
        await gate.PassAsync(ctx);
        await TestUpstream.Write(ctx, 200, "{}");
    }

    public void Dispose()
    {
        TempDirectory.Remove(_store); // a store write may still be finishing
    }
}
