using System.Net;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Tests.Cluster;

/// <summary>
/// A sign-in or a termination that failed for its caller is never applied later: the singleton proxy of a member
/// that had not joined keeps every copy it was given, and delivers them all once the member joins; each copy
/// carries the call's deadline, and the realm's singleton drops those that arrive after it.
/// </summary>
public sealed class ClusterSessionCallTests
{
    private const string ShortCalls = "netactors.cluster { session-call-timeout = 2s, token-request-timeout = 500ms }";

    [Fact]
    public async Task A_sign_in_that_failed_before_the_member_joined_is_never_applied_when_it_joins()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true }.Install(upstream);
        var logs = new LogCapture();
        await using var cluster = await TestCluster.StartAsync(1, net => ClusterAuthTests.Api(net, upstream), hocon: ShortCalls, logs: logs);
        await using var late = await TestCluster.StartMemberAsync(net => ClusterAuthTests.Api(net, upstream), hocon: ShortCalls);
        var expired = Events.Collect<SessionExpired>(cluster[0].System);

        // Session A, on a member that cannot reach the cluster: the caller is told it failed.
        var stale = tokens.SignIn();
        var failed = await Assert.ThrowsAnyAsync<NetException>(() => late.Client.SignInAsync("api", stale))
            .WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(stale.AccessToken, failed.Message);

        // Session B, signed in where the cluster is: the server has rotated A's refresh token away.
        await cluster[0].Client.SignInAsync("api", tokens.SignIn());
        await cluster.JoinAsync(late);

        // The copies of A that the member's proxy kept reach the singleton now, and are dropped.
        await Eventually.Assert(() => Assert.Contains("dropped a sign-in that arrived", logs.All), TimeSpan.FromSeconds(20));

        // B is still the session: the next expiry is refreshed with B's refresh token, once, and nobody is logged out.
        tokens.ExpireNow();
        var responses = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 5, "/api/after"));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Empty(expired);
    }

    [Fact]
    public async Task A_termination_that_failed_before_the_member_joined_never_ends_the_session_when_it_joins()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var logs = new LogCapture();
        await using var cluster = await TestCluster.StartAsync(1, net => ClusterAuthTests.Api(net, upstream), hocon: ShortCalls, logs: logs);
        await using var late = await TestCluster.StartMemberAsync(net => ClusterAuthTests.Api(net, upstream), hocon: ShortCalls);
        var expired = Events.Collect<SessionExpired>(cluster[0].System);

        await Assert.ThrowsAnyAsync<NetException>(() => late.Client.TerminateSessionAsync("api")).WaitAsync(TimeSpan.FromSeconds(20));
        await cluster[0].Client.SignInAsync("api", tokens.SignIn());
        await cluster.JoinAsync(late);

        await Eventually.Assert(() => Assert.Contains("dropped a session termination that arrived", logs.All), TimeSpan.FromSeconds(20));
        var responses = await Task.WhenAll(ClusterAuthTests.Burst(cluster.Members, 5, "/api/after"));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Empty(expired);
    }
}
