using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using NetActors.Auth;
using NetActors.Cluster;
using NetActors.Errors;
using NetActors.Configuration;

namespace NetActors.Tests.Cluster;

/// <summary>
/// Every session change is fenced: two singletons of one realm (a stale one that was frozen or cut off, and the
/// live one that replaced it) over one file store, each through its own store handle as two processes would. The
/// stale one never refreshes, saves or ends the newer session; it steps down when it finds the newer fence.
/// </summary>
public sealed class SessionFenceTests : TestKit, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly TempDirectory _temp = new();

    private string StoreDirectory => _temp.Path;

    private sealed class CountingRefresher(string prefix)
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task<TokenSet> Refresh(TokenRefreshContext context, CancellationToken ct)
        {
            var n = Interlocked.Increment(ref _count);
            return Task.FromResult(new TokenSet($"{prefix}-access-{n}", $"{prefix}-refresh-{n}", DateTimeOffset.UtcNow.AddHours(1)));
        }
    }

    private IActorRef StartSingleton(ITokenStore store, CountingRefresher refresher, Func<Task<TokenSet>>? refresh = null)
    {
        var settings = new RealmSettings { Name = "r", Strategy = RefreshStrategy.Delegate };
        var services = new RealmServices(new DelegateRefresher(refresh is null ? refresher.Refresh : (_, _) => refresh()), store,
            (_, _) => throw new InvalidOperationException("not used"), [], [], TimeProvider.System);
        return Sys.ActorOf(TokenActor.Props(settings, ClusterMode.SingletonServices(services, Logging.GetLogger(Sys, "fence"))));
    }

    /// <summary>The next token granted to the test actor (a singleton also sends its subscribers the realm's events).</summary>
    private TokenGranted Granted(long newerThan = 0) =>
        (TokenGranted)FishForMessage(m => m is TokenGranted granted && granted.Version > newerThan, Wait);

    private Task<FencedTokens> Stored() => new FileTokenStore(StoreDirectory).LoadFencedAsync("r", default);

    [Fact]
    public async Task A_stale_singleton_whose_refresh_comes_due_steps_down_without_calling_the_token_endpoint()
    {
        var staleRefresher = new CountingRefresher("stale");
        var liveRefresher = new CountingRefresher("live");
        var stale = StartSingleton(new FileTokenStore(StoreDirectory), staleRefresher);
        stale.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        Assert.Equal(1, ExpectMsg<SignedIn>(Wait).Version);
        await AwaitAssertAsync(async () => Assert.Equal(new FenceToken(1, 1), (await Stored()).Fence), Wait);

        // A new singleton starts elsewhere (the stale one is frozen): it claims the next incarnation and refreshes.
        var live = StartSingleton(new FileTokenStore(StoreDirectory), liveRefresher);
        live.Tell(new GetToken("r", 1), TestActor);
        Assert.Equal("live-access-1", Granted().AccessToken);
        await AwaitAssertAsync(async () => Assert.Equal(new FenceToken(2, 2), (await Stored()).Fence), Wait);

        // The stale one wakes up and its token is due: it re-reads the store, finds the newer fence, and steps down.
        var probe = CreateTestProbe();
        stale.Tell(new GetToken("r", 1), probe.Ref);
        Assert.Equal(TokenDenial.Failed, probe.ExpectMsg<TokenDenied>(Wait).Denial);
        Assert.Equal(0, staleRefresher.Count);

        // Stepped down, it refuses session calls too, and the newer session is untouched.
        stale.Tell(new TerminateSession("r", "stale logout"), probe.Ref);
        Assert.IsType<ClusterUnavailableException>(probe.ExpectMsg<Status.Failure>(Wait).Cause);
        stale.Tell(new GetToken("r", 0), probe.Ref);
        Assert.Equal(TokenDenial.Failed, probe.ExpectMsg<TokenDenied>(Wait).Denial);
        var stored = await Stored();
        Assert.Equal(new FenceToken(2, 2), stored.Fence);
        Assert.Equal("live-access-1", stored.Tokens?.Tokens.AccessToken);

        // The live singleton carries on.
        live.Tell(new GetToken("r", 2), TestActor);
        Assert.Equal("live-access-2", Granted(newerThan: 2).AccessToken);
    }

    [Fact]
    public async Task A_stale_singleton_whose_refresh_is_rejected_because_a_newer_one_rotated_meanwhile_steps_down_instead_of_ending_the_session()
    {
        // The stale singleton's check passes, then the newer singleton claims and rotates before the stale refresh
        // reaches the token endpoint, which rejects it (invalid_grant).
        var live = new FencedTokenStore(new FileTokenStore(StoreDirectory), Logging.GetLogger(Sys, "fence"));
        var stale = StartSingleton(new FileTokenStore(StoreDirectory), new CountingRefresher("unused"), async () =>
        {
            await live.LoadAsync("r", default);
            await live.SaveAsync("r", new StoredTokens(new TokenSet("rotated", "rt-rotated"), 2), default);
            throw new TokenRejectedException("invalid_grant");
        });
        Sys.EventStream.Subscribe(TestActor, typeof(SessionExpired));
        stale.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        FishForMessage(m => m is SignedIn, Wait);

        var probe = CreateTestProbe();
        stale.Tell(new GetToken("r", 1), probe.Ref);

        Assert.Equal(TokenDenial.Failed, probe.ExpectMsg<TokenDenied>(Wait).Denial); // stepped down, not SessionExpired
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no SessionExpired event, no denial pushed to the subscriber
        var stored = await Stored();
        Assert.Equal("rotated", stored.Tokens?.Tokens.AccessToken);
        Assert.Equal(2, stored.Fence.Incarnation);
    }

    [Fact]
    public async Task A_stale_singletons_save_and_clear_are_rejected_and_leave_the_newer_session_alone()
    {
        var log = Logging.GetLogger(Sys, "fence");
        var stale = new FencedTokenStore(new FileTokenStore(StoreDirectory), log);
        var live = new FencedTokenStore(new FileTokenStore(StoreDirectory), log);
        Assert.Null(await stale.LoadAsync("r", default));
        await stale.SaveAsync("r", new StoredTokens(new TokenSet("old"), 1), default);
        Assert.Equal("old", (await live.LoadAsync("r", default))?.Tokens.AccessToken);   // the live one claims: incarnation 2
        await live.SaveAsync("r", new StoredTokens(new TokenSet("new"), 2), default);

        await Assert.ThrowsAsync<FenceLostException>(() => stale.SaveAsync("r", new StoredTokens(new TokenSet("stale"), 9), default));
        await Assert.ThrowsAsync<FenceLostException>(() => stale.ClearAsync("r", default));
        await Assert.ThrowsAsync<FenceLostException>(() => stale.EnsureHeldAsync("r", default));
        await live.EnsureHeldAsync("r", default);

        var stored = await Stored();
        Assert.Equal(new FenceToken(2, 2), stored.Fence);
        Assert.Equal("new", stored.Tokens?.Tokens.AccessToken);
    }

    [Fact]
    public async Task A_singletons_own_writes_landing_out_of_order_keep_the_newest_and_do_not_step_it_down()
    {
        var fenced = new FencedTokenStore(new FileTokenStore(StoreDirectory), Logging.GetLogger(Sys, "fence"));
        await fenced.LoadAsync("r", default);
        await fenced.SaveAsync("r", new StoredTokens(new TokenSet("v3"), 3), default);
        await fenced.SaveAsync("r", new StoredTokens(new TokenSet("v2"), 2), default); // overtaken: not applied, not an error
        await fenced.EnsureHeldAsync("r", default);
        Assert.Equal("v3", (await Stored()).Tokens?.Tokens.AccessToken);

        await fenced.ClearAsync("r", default);
        await fenced.SaveAsync("r", new StoredTokens(new TokenSet("v3 again"), 3), default); // the clear is newer
        Assert.Null((await Stored()).Tokens);
        await fenced.SaveAsync("r", new StoredTokens(new TokenSet("v4"), 4), default);      // the next sign-in
        Assert.Equal("v4", (await Stored()).Tokens?.Tokens.AccessToken);
    }

    [Fact]
    public void A_call_past_its_deadline_is_dropped_by_the_singleton_and_one_within_it_is_applied()
    {
        var singleton = StartSingleton(new FileTokenStore(StoreDirectory), new CountingRefresher("x"));
        singleton.Tell(new SignIn("r", new TokenSet("late")) { CallId = Guid.NewGuid(), Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) }, TestActor);
        singleton.Tell(new TerminateSession("r", "late") { CallId = Guid.NewGuid(), Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) }, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        singleton.Tell(new GetToken("r", 0), TestActor);
        Assert.Equal("x-access-1", Granted().AccessToken); // not signed in: the realm's own refresher got a token

        singleton.Tell(new SignIn("r", new TokenSet("ontime")) { CallId = Guid.NewGuid(), Deadline = DateTimeOffset.UtcNow.AddSeconds(30) }, TestActor);
        FishForMessage(m => m is SignedIn, Wait);
    }

    public new void Dispose()
    {
        base.Dispose();
        _temp.Dispose();
    }
}
