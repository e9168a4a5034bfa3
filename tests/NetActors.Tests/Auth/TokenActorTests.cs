using Akka.Actor;
using Akka.TestKit.Xunit2;
using NetActors.Auth;
using NetActors.Configuration;

namespace NetActors.Tests.Auth;

/// <summary>The TokenActor's state machine, driven message by message with TestKit probes.</summary>
public sealed class TokenActorTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private sealed class ControlledRefresher
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<TaskCompletionSource<TokenSet>> _calls = new();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task<TokenSet> Refresh(TokenRefreshContext context, CancellationToken ct)
        {
            Interlocked.Increment(ref _count);
            var call = new TaskCompletionSource<TokenSet>(TaskCreationOptions.RunContinuationsAsynchronously);
            _calls.Enqueue(call);
            return call.Task;
        }

        public TaskCompletionSource<TokenSet> Next() =>
            _calls.TryDequeue(out var call) ? call : throw new InvalidOperationException("No refresh is running.");
    }

    private sealed class ArmedClock : TimeProvider
    {
        public bool Armed { get; set; }

        public override DateTimeOffset GetUtcNow() =>
            Armed ? throw new InvalidOperationException("clock failure (test)") : base.GetUtcNow();
    }

    private IActorRef Start(ControlledRefresher? refresher, ITokenStore store, int stashCapacity = 100, TimeProvider? time = null)
    {
        var settings = new RealmSettings
        {
            Name = "r", Strategy = refresher is null ? RefreshStrategy.None : RefreshStrategy.Delegate, StashCapacity = stashCapacity,
        };
        var services = new RealmServices(refresher is null ? null : new DelegateRefresher(refresher.Refresh), store,
            (_, _) => throw new InvalidOperationException("not used"), [], [], time ?? TimeProvider.System);
        return Sys.ActorOf(TokenActor.Props(settings, services));
    }

    [Fact]
    public void A_repeated_session_call_is_answered_again_but_applied_once()
    {
        // Cluster mode re-sends a sign-in until the realm's singleton answers: a copy must not sign in again.
        var actor = Start(new ControlledRefresher(), new MemoryTokenStore());
        var alice = new SignIn("r", new TokenSet("alice", "rt-a")) { CallId = Guid.NewGuid() };
        var bob = new SignIn("r", new TokenSet("bob", "rt-b")) { CallId = Guid.NewGuid() };

        actor.Tell(alice, TestActor);
        var first = ExpectMsg<SignedIn>(Wait);
        actor.Tell(alice, TestActor);
        var again = ExpectMsg<SignedIn>(Wait);
        actor.Tell(bob, TestActor);
        var second = ExpectMsg<SignedIn>(Wait);
        actor.Tell(new GetToken("r", 0), TestActor);

        Assert.Equal(first, again);
        Assert.Equal(alice.CallId, first.CallId);
        Assert.Equal(first.Version + 1, second.Version);
        Assert.Equal(bob.CallId, second.CallId);
        Assert.Equal("bob", ExpectMsg<TokenGranted>(Wait).AccessToken);
    }

    [Fact]
    public async Task Concurrent_requests_for_the_same_stale_version_cause_one_refresh_and_all_get_the_new_token()
    {
        var refresher = new ControlledRefresher();
        var actor = Start(refresher, new MemoryTokenStore());
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        Assert.Equal(1, ExpectMsg<SignedIn>(Wait).Version);

        var probes = Enumerable.Range(0, 5).Select(_ => CreateTestProbe()).ToList();
        probes.ForEach(p => actor.Tell(new GetToken("r", 1), p.Ref));
        await AwaitAssertAsync(() => Assert.Equal(1, refresher.Count), Wait);
        probes.ForEach(p => p.ExpectNoMsg(TimeSpan.FromMilliseconds(50)));

        refresher.Next().SetResult(new TokenSet("t2", "rt2"));

        foreach (var probe in probes)
        {
            var granted = probe.ExpectMsg<TokenGranted>(Wait);
            Assert.Equal("t2", granted.AccessToken);
            Assert.Equal(2, granted.Version);
        }

        Assert.Equal(1, refresher.Count);
    }

    [Fact]
    public async Task A_host_that_waited_for_a_refresh_gets_the_new_token_once_not_a_second_copy_when_the_stash_is_served()
    {
        var refresher = new ControlledRefresher();
        var actor = Start(refresher, new MemoryTokenStore());
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);
        var host = CreateTestProbe();
        actor.Tell(new GetToken("r", 1), host.Ref);
        await AwaitAssertAsync(() => Assert.Equal(1, refresher.Count), Wait);

        refresher.Next().SetResult(new TokenSet("t2", "rt2"));

        Assert.Equal(2, host.ExpectMsg<TokenGranted>(Wait).Version);
        host.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // A later request of the same host (a restarted host actor asks again) is answered as usual.
        actor.Tell(new GetToken("r", 0), host.Ref);
        Assert.Equal(2, host.ExpectMsg<TokenGranted>(Wait).Version);
    }

    [Fact]
    public void A_request_reporting_an_old_version_gets_the_current_token_without_a_refresh()
    {
        var refresher = new ControlledRefresher();
        var actor = Start(refresher, new MemoryTokenStore());
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);
        actor.Tell(new SignIn("r", new TokenSet("t2", "rt2")), TestActor);
        ExpectMsg<SignedIn>(Wait);

        actor.Tell(new GetToken("r", 1), TestActor);

        Assert.Equal("t2", ExpectMsg<TokenGranted>(Wait).AccessToken);
        Assert.Equal(0, refresher.Count);
    }

    [Fact]
    public void Stashed_messages_are_served_in_arrival_order()
    {
        var load = new TaskCompletionSource<StoredTokens?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var actor = Start(refresher: null, new BlockingStore(load.Task));   // sign-in only: no session, no token
        var before = CreateTestProbe();
        var after = CreateTestProbe();

        // While loading everything is stashed; the order decides each answer.
        actor.Tell(new GetToken("r", 0), before.Ref);                      // before sign-in: denied
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor); // signed in, version 1
        actor.Tell(new GetToken("r", 0), after.Ref);                       // after: granted version 1
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        load.SetResult(null);

        Assert.Equal(TokenDenial.SessionExpired, before.ExpectMsg<TokenDenied>(Wait).Denial);
        Assert.Equal(1, ExpectMsg<SignedIn>(Wait).Version);
        Assert.Equal("t1", after.ExpectMsg<TokenGranted>(Wait).AccessToken);
    }

    [Fact]
    public async Task A_refresh_result_of_an_older_generation_is_ignored()
    {
        var refresher = new ControlledRefresher();
        var actor = Start(refresher, new MemoryTokenStore());
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);
        var waiter = CreateTestProbe();
        actor.Tell(new GetToken("r", 1), waiter.Ref);
        await AwaitAssertAsync(() => Assert.Equal(1, refresher.Count), Wait);
        var stale = refresher.Next();

        actor.Tell(new SignIn("r", new TokenSet("t-signin", "rt-signin")), TestActor);   // new generation
        ExpectMsg<SignedIn>(Wait);
        Assert.Equal("t-signin", waiter.ExpectMsg<TokenGranted>(Wait).AccessToken);
        stale.SetResult(new TokenSet("t-stale", "rt-stale"));

        actor.Tell(new GetToken("r", 0), TestActor);
        var granted = ExpectMsg<TokenGranted>(Wait);
        Assert.Equal("t-signin", granted.AccessToken);
        Assert.Equal(2, granted.Version);
    }

    [Fact]
    public void A_restart_keeps_the_tokens_and_the_request_in_hand_is_answered()
    {
        var clock = new ArmedClock();
        var actor = Start(new ControlledRefresher(), new MemoryTokenStore(), time: clock);
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);

        clock.Armed = true;
        EventFilter.Exception<InvalidOperationException>().ExpectOne(() => actor.Tell(new GetToken("r", 0), TestActor));
        Assert.Equal(TokenDenial.Failed, ExpectMsg<TokenDenied>(Wait).Denial);
        clock.Armed = false;

        actor.Tell(new GetToken("r", 0), TestActor);
        var granted = ExpectMsg<TokenGranted>(Wait);
        Assert.Equal("t1", granted.AccessToken);
        Assert.Equal(1, granted.Version);
    }

    [Fact]
    public async Task Stash_overflow_is_answered_with_a_typed_denial()
    {
        var refresher = new ControlledRefresher();
        var actor = Start(refresher, new MemoryTokenStore(), stashCapacity: 2);
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);

        var probes = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToList();
        probes.ForEach(p => actor.Tell(new GetToken("r", 1), p.Ref));

        var denied = probes[2].ExpectMsg<TokenDenied>(Wait);
        Assert.Equal(TokenDenial.Overloaded, denied.Denial);
        await AwaitAssertAsync(() => Assert.Equal(1, refresher.Count), Wait);
        refresher.Next().SetResult(new TokenSet("t2", "rt2"));
        Assert.Equal("t2", probes[0].ExpectMsg<TokenGranted>(Wait).AccessToken);
        Assert.Equal("t2", probes[1].ExpectMsg<TokenGranted>(Wait).AccessToken);
    }

    [Fact]
    public async Task A_rejected_refresh_denies_waiters_and_publishes_session_expired_once()
    {
        var refresher = new ControlledRefresher();
        var store = new MemoryTokenStore();
        var actor = Start(refresher, store);
        Sys.EventStream.Subscribe(TestActor, typeof(SessionExpired));
        actor.Tell(new SignIn("r", new TokenSet("t1", "rt1")), TestActor);
        ExpectMsg<SignedIn>(Wait);
        var a = CreateTestProbe();
        var b = CreateTestProbe();
        actor.Tell(new GetToken("r", 1), a.Ref);
        actor.Tell(new GetToken("r", 1), b.Ref);
        AwaitAssert(() => Assert.Equal(1, refresher.Count), Wait);

        refresher.Next().SetException(new TokenRejectedException("invalid_grant"));

        Assert.Equal(TokenDenial.SessionExpired, a.ExpectMsg<TokenDenied>(Wait).Denial);
        Assert.Equal(TokenDenial.SessionExpired, b.ExpectMsg<TokenDenied>(Wait).Denial);
        Assert.Equal("invalid_grant", ExpectMsg<SessionExpired>(Wait).Reason);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Null(await store.LoadAsync("r", default));
    }

    private sealed class BlockingStore(Task<StoredTokens?> load) : ITokenStore
    {
        public Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken) => load;

        public Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ClearAsync(string realm, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
