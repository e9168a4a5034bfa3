using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using NetActors.Errors;
using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>What a realm's TokenActor is given besides its settings.</summary>
internal sealed class RealmServices(ITokenRefresher? refresher, ITokenStore store,
    Func<NetRequest, CancellationToken, Task<NetResponse>> send, IReadOnlyList<Action<SessionExpired>> onExpired,
    IReadOnlyList<Action<TokenRefreshed>> onRefreshed, TimeProvider time, Telemetry.NetMetrics? metrics = null,
    Telemetry.SessionStates? sessions = null, Caching.CacheRegistry? caches = null, StoreWrites? writes = null,
    bool eventsToSubscribers = false)
{
    /// <summary>Token store writes still running; shutdown waits for them, so a rotated refresh token is not lost.</summary>
    public StoreWrites Writes { get; } = writes ?? new StoreWrites();

    /// <summary>
    /// Cluster mode: events go to the subscribers (the members' realm clients, which publish them on their own
    /// node) instead of this node's event stream and callbacks.
    /// </summary>
    public bool EventsToSubscribers { get; } = eventsToSubscribers;

    public Telemetry.SessionStates? Sessions { get; } = sessions;

    /// <summary>The HTTP caches, cleared for the realm when its session ends or someone signs in.</summary>
    public Caching.CacheRegistry? Caches { get; } = caches;

    public Telemetry.NetMetrics? Metrics { get; } = metrics;

    public ITokenRefresher? Refresher { get; } = refresher;

    public ITokenStore Store { get; } = store;

    public Func<NetRequest, CancellationToken, Task<NetResponse>> Send { get; } = send;

    public IReadOnlyList<Action<SessionExpired>> OnExpired { get; } = onExpired;

    public IReadOnlyList<Action<TokenRefreshed>> OnRefreshed { get; } = onRefreshed;

    public TimeProvider Time { get; } = time;
}

/// <summary>
/// Owns one auth realm's tokens. It is <c>Ready</c> or <c>Refreshing</c>: while a refresh runs it stashes every
/// request for a token it cannot answer with the current one, so N concurrent 401s with the same version cause
/// exactly one refresh. A request reporting a version older than the current token gets the current one. It
/// refreshes ahead of expiry, never more often than <c>min-refresh-interval</c> and not for lifetimes under the proactive
/// floor. Each answer is judged once (<see cref="TokenAnswers"/>): a rejected refresh ends the session (store cleared,
/// waiting requests denied, the <see cref="SessionExpired"/> event once); an answer that can never be a token fails the
/// waiting requests at once and its refresh token is not presented again; an unreachable token endpoint, or a refresher
/// that outlives <c>refresh-timeout</c> (the actor's own deadline), is retried with capped backoff while the waiting
/// askers hear when the next attempt is due (<see cref="TokenUnavailable"/>), and a request arriving meanwhile may start
/// it early.
/// Async work returns through <c>PipeTo</c> tagged with a generation; results of an older generation are ignored.
/// Tokens live in the <see cref="ITokenStore"/>, so a restarted actor resumes with them.
/// </summary>
internal sealed class TokenActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private const string ProactiveTimer = "proactive-refresh";
    private const string RetryTimer = "retry-refresh";
    private const string TimeoutTimer = "refresh-timeout";

    private readonly RealmSettings _settings;
    private readonly RealmServices _services;
    private readonly AuthLog _log = AuthLog.For(Context.System);
    private readonly HashSet<IActorRef> _subscribers = [];
    private StoredTokens? _current;
    private long _version;
    private Activity? _refreshSpan; // telemetry: the span of the refresh attempt on the wire, or null
    private static long s_generations;
    private long _generation = Interlocked.Increment(ref s_generations);
    private int _stashed;
    private int _retries;
    private bool _refreshIsProactive;
    private long _refreshStarted;
    private string? _endedReason;
    private CancellationTokenSource? _refreshCts;
    private Task _lastWrite = Task.CompletedTask;
    private bool _refreshInFlight;
    private bool _handingOver;
    private readonly RetrySettings _refreshBackoff;
    private readonly HashSet<IActorRef> _waiters = [];

    /// <summary>
    /// Askers whose stashed token request the push of the adopted token already answered: when the stash is served,
    /// they get no second copy of the same token (one TokenGranted per asker and token).
    /// </summary>
    private readonly HashSet<IActorRef> _answeredByPush = [];
    private DateTimeOffset? _lastRefreshAt;
    private FailedAttempt? _lastFailure;
    private DateTimeOffset _retryAt;
    private UnusableAnswer? _unusable;
    private DateTimeOffset? _lastUse; // null until the first idle check: the clock is not read while constructing
    private bool _idlePaused;

    private TokenActor(RealmSettings settings, RealmServices services)
    {
        _settings = settings;
        _services = services;
        _refreshBackoff = new RetrySettings
        {
            BaseDelay = settings.RetryMinBackoff, Factor = 2, MaxDelay = settings.RetryMaxBackoff, Jitter = 0.5,
        };
        Loading();
    }

    public static Props Props(RealmSettings settings, RealmServices services) =>
        ActorProps.Of(() => new TokenActor(settings, services));

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    private string Realm => _settings.Name;

    private DateTimeOffset Now => _services.Time.GetUtcNow();

    protected override void PreStart()
    {
        _services.Store.LoadAsync(Realm, CancellationToken.None)
            .PipeTo(Self, success: t => new Loaded(t), failure: e => new LoadFailed(e));
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // The supervisor logs the failure itself; say what happens next.
        _log.Restarting(Realm, reason.GetType().Name);
        if (message is GetToken)
        {
            // The message in hand is lost with the failed incarnation: answer it rather than leave it waiting.
            // (Stashed messages go back to the mailbox and are served by the new incarnation.)
            Sender.Tell(new TokenDenied(Realm, TokenDenial.Failed, "the auth realm's actor failed; see the log"));
        }

        base.PreRestart(reason, message);
    }

    protected override void PostStop()
    {
        EndRefreshSpan("stopped", null);
        Telemetry.NetActivity.Forget(Self);
        _refreshCts?.Cancel();
        _refreshCts?.Dispose();
    }

    // ---- behaviours ------------------------------------------------------------------------------------

    private void Loading()
    {
        Receive<Loaded>(loaded =>
        {
            if (loaded.Tokens is { } stored)
            {
                _current = stored;
                _version = stored.Version;
                ScheduleProactive(resumed: true);
                _log.Resumed(Realm, stored.Version);
            }

            BecomeReady();
        });
        Receive<LoadFailed>(failed =>
        {
            _log.LoadFailed(Realm, failed.Error.GetType().Name);
            BecomeReady();
        });
        ReceiveAny(StashBounded);
    }

    private void BecomeReady()
    {
        Become(Ready);
        UnstashEverything();
    }

    private void Ready()
    {
        Receive<GetToken>(OnGetTokenReady);
        Receive<SignIn>(OnSignIn);
        Receive<TerminateSession>(OnTerminate);
        Receive<RefreshDue>(_ =>
        {
            if (IsIdle())
            {
                return; // paused until the next request (idle-refresh-after)
            }

            if (CanRefresh && RefreshRefusal() is null)
            {
                StartRefresh(proactive: true);
            }
        });
        Receive<TokenInUse>(_ => OnTokenInUse());
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<SubscribeToken>(OnSubscribeToken);
        Receive<HandOver>(_ => OnHandOver());
        Receive<RefreshResult>(r => _log.IgnoredResult(Realm, r.Generation));
        Receive<RetryRefresh>(_ => { });
        Receive<RefreshTimedOut>(_ => { });
    }

    private void Refreshing()
    {
        Receive<GetToken>(request =>
        {
            Subscribe();
            if (UsableNewerThan(request.StaleVersion) is { } token)
            {
                // A proactive refresh is running but the current token still works.
                Sender.Tell(Grant(token));
                return;
            }

            _lastUse = Now;
            if (!_waiters.Contains(Sender))
            {
                StashBounded(request); // one waiting request per asker: the next token answers them all
            }

            OnWaitingDuringBackoff();
        });
        Receive<RefreshResult>(r =>
        {
            var current = r.Generation == _generation;
            OnRefreshResult(r);
            if (current && _handingOver)
            {
                OnHandOver(); // the refresh that was on the wire is adopted and saved: now the next singleton may load it
            }
        });
        Receive<RetryRefresh>(r =>
        {
            if (r.Generation == _generation)
            {
                if (_handingOver)
                {
                    OnHandOver(); // the next singleton retries
                    return;
                }

                RunRefresh();
            }
        });
        Receive<RefreshTimedOut>(t =>
        {
            if (t.Generation != _generation || !_refreshInFlight)
            {
                return;
            }

            // The realm's own deadline, whatever the refresher does with its cancellation token: the attempt is
            // abandoned (its late result belongs to an old generation) and retried with backoff.
            _ = _refreshCts?.CancelAsync();
            EndRefreshSpan("timeout", null); // telemetry
            NextGeneration();
            OnTransientFailure(new TimeoutException(
                $"the refresh did not finish within refresh-timeout ({_settings.RefreshTimeout.TotalSeconds:0.###} s)"));
            if (_handingOver)
            {
                OnHandOver(); // the next singleton retries
            }
        });
        Receive<SignIn>(OnSignIn);
        Receive<TerminateSession>(OnTerminate);
        Receive<RefreshDue>(_ => { });
        Receive<TokenInUse>(_ => _lastUse = Now);
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<SubscribeToken>(OnSubscribeToken);
        Receive<HandOver>(_ =>
        {
            if (!_refreshInFlight)
            {
                OnHandOver();
                return;
            }

            // With rotating refresh tokens the server may already have used up the stored refresh token: stopping
            // now would leave the next singleton only that one, and the fleet logged out. Wait for the result
            // (bounded by refresh-timeout), adopt and save it, then hand over.
            _log.HandOverAfterRefresh(Realm);
            _handingOver = true;
        });
    }

    // ---- Ready ----------------------------------------------------------------------------------------

    private void OnGetTokenReady(GetToken request)
    {
        var answeredByPush = _answeredByPush.Remove(Sender); // the first request of a pushed waiter is its stashed one
        Subscribe();
        _lastUse = Now;
        _idlePaused = false;
        if (UsableNewerThan(request.StaleVersion) is { } token)
        {
            if (!answeredByPush || token.Version != _version)
            {
                Sender.Tell(Grant(token));
            }

            return;
        }

        if (CanRefresh)
        {
            if (RefreshRefusal() is { } refusal)
            {
                Sender.Tell(new TokenDenied(Realm, TokenDenial.Malformed, refusal));
                return;
            }

            StashBounded(request);
            StartRefresh(proactive: false);
            return;
        }

        if (_current is not null)
        {
            EndSession(_settings.Strategy == RefreshStrategy.None
                ? "the access token expired or was rejected and the realm has no refresh strategy"
                : "the access token expired or was rejected and there is no refresh token");
        }

        Sender.Tell(new TokenDenied(Realm, TokenDenial.SessionExpired, _endedReason ?? "not signed in"));
    }

    /// <summary>
    /// With <c>idle-refresh-after</c> set: true (and proactive refresh paused) once no request has used the token for
    /// that long. Without it a realm is never idle, so sliding refresh-token lifetimes stay alive.
    /// </summary>
    private bool IsIdle()
    {
        if (_settings.IdleRefreshAfter is not { } idle)
        {
            return false;
        }

        var lastUse = _lastUse ??= Now;
        if (Now - lastUse < idle)
        {
            return false;
        }

        if (!_idlePaused && _current is { } current)
        {
            _log.IdlePause(Realm, current.Version, (Now - lastUse).TotalMilliseconds);
        }

        _idlePaused = true;
        return true;
    }

    /// <summary>A request used the token: a paused realm resumes its proactive schedule.</summary>
    private void OnTokenInUse()
    {
        _lastUse = Now;
        if (!_idlePaused)
        {
            return;
        }

        _idlePaused = false;
        ScheduleProactive(); // an expired token is refreshed by the request that finds it so, before it is sent
    }

    private bool CanRefresh =>
        _services.Refresher is { } refresher && (!refresher.NeedsSession || _current is not null);

    private StoredTokens? UsableNewerThan(long staleVersion) =>
        _current is { } current && current.Version > staleVersion && TokenUsability.IsUsable(current.Tokens.EffectiveExpiry, Now)
            ? current
            : null;

    private TokenGranted Grant(StoredTokens token) =>
        new(Realm, token.Tokens.AccessToken, token.Version, token.Tokens.EffectiveExpiry);

    // ---- refresh ---------------------------------------------------------------------------------------

    private void StartRefresh(bool proactive)
    {
        _refreshIsProactive = proactive;
        _retries = 0;
        _refreshStarted = Stopwatch.GetTimestamp();
        Become(Refreshing);
        RunRefresh();
    }

    private void RunRefresh()
    {
        var generation = NextGeneration();
        _refreshInFlight = true;
        _lastRefreshAt = Now;
        Timers.Cancel(RetryTimer);
        _refreshCts?.Dispose();
        _refreshCts = new CancellationTokenSource();
        // The realm's own deadline: a refresher that never returns (a delegate included) is abandoned on time.
        Timers.StartSingleTimer(TimeoutTimer, new RefreshTimedOut(generation), _settings.RefreshTimeout);
        var context = new TokenRefreshContext(Realm, _current?.Tokens, _settings.TokenClient, _services.Send);
        Task<TokenSet> refresh;
        // Telemetry: the refresh's own span, current while the refresher starts, so its call to the token endpoint
        // (sent through the runtime) is a child of it; this actor's thread gets its context back below.
        _refreshSpan = Telemetry.NetActivity.BeginRefresh(Realm, _refreshIsProactive);
        var outer = Activity.Current;
        try
        {
            if (_refreshSpan is not null)
            {
                Activity.Current = _refreshSpan;
            }

            refresh = _services.Refresher!.RefreshAsync(context, _refreshCts.Token);
        }
        catch (Exception e)
        {
            refresh = Task.FromException<TokenSet>(e);
        }
        finally
        {
            if (_refreshSpan is not null)
            {
                Activity.Current = outer;
            }
        }

        refresh.PipeTo(Self,
            success: tokens => new RefreshResult(generation, tokens, null),
            failure: error => new RefreshResult(generation, null, error));
    }

    private void OnRefreshResult(RefreshResult result)
    {
        if (result.Generation != _generation)
        {
            _log.IgnoredResult(Realm, result.Generation);
            return;
        }

        _refreshInFlight = false;
        Timers.Cancel(TimeoutTimer);

        // Every answer is judged once: a token, a rejection, an answer that can never become a token, or a failure
        // to reach the endpoint. Only the last is retried.
        var elapsed = Stopwatch.GetElapsedTime(_refreshStarted);
        string? problem = null;
        TokenSet? tokens = null;
        RefreshOutcome outcome;
        if (result.Tokens is { } answered)
        {
            (tokens, problem) = TokenAnswers.Judge(answered, Now, _settings.MaxTokenLifetime);
            outcome = tokens is null ? RefreshOutcome.Unusable : RefreshOutcome.Success;
        }
        else
        {
            outcome = TokenAnswers.Classify(result.Error);
        }

        var error = TokenAnswers.Unwrap(result.Error);
        var outcomeName = outcome switch
        {
            RefreshOutcome.Success => "success",
            RefreshOutcome.Rejected => "rejected",
            RefreshOutcome.Unusable => "malformed",
            _ => "failed",
        };
        _services.Metrics?.TokenRefreshes.Add(1, new KeyValuePair<string, object?>("netactors.realm", Realm),
            new KeyValuePair<string, object?>("netactors.outcome", outcomeName));
        var span = _refreshSpan;
        EndRefreshSpan(outcomeName, outcome == RefreshOutcome.Success ? null : error); // telemetry: the attempt's outcome

        switch (outcome)
        {
            case RefreshOutcome.Success:
                if (_lastFailure is { } down)
                {
                    _log.Recovered(Realm, (Now - down.Since).TotalMilliseconds);
                }

                Telemetry.NetActivity.Refreshed(Self, span, NextVersion); // telemetry: before Adopt tells the hosts
                Adopt(tokens!);
                _log.Refreshed(Realm, _version, elapsed.TotalMilliseconds, _refreshIsProactive);
                Publish(new TokenRefreshed(Realm, _version, tokens!.EffectiveExpiry, _refreshIsProactive), _services.OnRefreshed);
                BecomeReady();
                return;

            case RefreshOutcome.Rejected:
                var rejected = (TokenRejectedException)error!;
                _log.Rejected(Realm, rejected.Reason);
                EndSession(rejected.Reason);
                // Answer the waiters now: unstashed into Ready, a refresher that needs no session (client
                // credentials, a delegate) would start the rejected refresh again, and again.
                DenyStashed(TokenDenial.SessionExpired, rejected.Reason);
                Become(Ready);
                return;

            case RefreshOutcome.Unusable:
                problem ??= error?.Message ?? "the refresher returned no tokens.";
                _log.Unusable(Realm, problem, _version);
                _unusable = new UnusableAnswer(_current, problem, Now,
                    SpentRefreshToken: _current?.Tokens.RefreshToken is not null && _settings.Strategy != RefreshStrategy.OAuthClientCredentials);
                ClearFailure();
                _services.Sessions?.Degraded(Realm, "the token endpoint's answer could not be used: " + problem);
                DenyStashed(TokenDenial.Malformed, problem);
                Become(Ready);
                return;

            case RefreshOutcome.Transient when SessionFence.IsLost(error): // fence: a newer singleton holds the session
                StepDown(error!);
                return;

            default:
                OnTransientFailure(error ?? new InvalidOperationException("the refresh failed"));
                return;
        }
    }

    /// <summary>
    /// The token endpoint could not be reached, failed or timed out: retry with capped backoff, keep the session,
    /// and tell the waiting askers when the next attempt is due, so that a request whose budget cannot cover it
    /// fails now with the cause rather than later with a bare timeout.
    /// </summary>
    private void OnTransientFailure(Exception error)
    {
        var delay = Backoff(++_retries);
        var reason = error is NetException ? error.Message : $"{error.GetType().Name}: {error.Message}";
        _retryAt = Now + delay;
        _lastFailure = new FailedAttempt(reason, Now, _lastFailure?.Since ?? Now);
        _services.Sessions?.Degraded(Realm, "the token endpoint cannot be reached: " + reason);
        _log.RefreshFailed(Realm, reason, delay.TotalMilliseconds);
        Timers.StartSingleTimer(RetryTimer, new RetryRefresh(_generation), delay);
        var notice = new TokenUnavailable(Realm, reason, _retryAt);
        foreach (var waiter in _waiters)
        {
            waiter.Tell(notice);
        }
    }

    /// <summary>
    /// A request needs a token while a failed refresh waits for its retry: retry at once when the last attempt
    /// failed at least <c>on-demand-after</c> ago (the endpoint may be back, and a recovered endpoint serves the next
    /// request promptly), else bring the retry forward to that moment and tell the asker when it is due.
    /// </summary>
    private void OnWaitingDuringBackoff()
    {
        if (_refreshInFlight || _lastFailure is not { } failure || _handingOver)
        {
            return;
        }

        var now = Now;
        var since = now - failure.At;
        if (since >= _settings.RetryOnDemandAfter)
        {
            _log.RetryOnDemand(Realm, since.TotalMilliseconds);
            RunRefresh();
            return;
        }

        var onDemand = failure.At + _settings.RetryOnDemandAfter;
        if (onDemand < _retryAt)
        {
            _retryAt = onDemand;
            Timers.StartSingleTimer(RetryTimer, new RetryRefresh(_generation), onDemand - now);
        }

        Sender.Tell(new TokenUnavailable(Realm, failure.Reason, _retryAt));
    }

    /// <summary>
    /// Why no refresh may start now, or null. After an unusable answer the refresh token it was given is not
    /// presented again (a rotating server has consumed it; a sign-in starts over); a realm without one tries again
    /// no sooner than <c>min-refresh-interval</c>.
    /// </summary>
    private string? RefreshRefusal()
    {
        if (_unusable is not { } unusable)
        {
            return null;
        }

        if (unusable.SpentRefreshToken && ReferenceEquals(unusable.For, _current))
        {
            return $"the token endpoint's answer to this session's refresh token could not be used ({unusable.Reason}); " +
                   "the refresh token is not presented again: sign in again";
        }

        return Now - unusable.At < _settings.MinRefreshInterval ? unusable.Reason : null;
    }

    private void ClearFailure()
    {
        _lastFailure = null;
        _retries = 0;
    }

    /// <summary>
    /// A new generation, unique across incarnations: a result of a refresh started before a restart can never
    /// pass for one started after it.
    /// </summary>
    private long NextGeneration()
    {
        EndRefreshSpan("abandoned", null); // telemetry: a refresh of an earlier generation is no longer this realm's
        _refreshInFlight = false; // a refresh of an earlier generation no longer counts
        return _generation = Interlocked.Increment(ref s_generations);
    }

    /// <summary>Telemetry: ends the refresh attempt's span, if one is open.</summary>
    private void EndRefreshSpan(string outcome, Exception? error)
    {
        if (_refreshSpan is { } span)
        {
            _refreshSpan = null;
            Telemetry.NetActivity.EndRefresh(span, outcome, error);
        }
    }

    /// <summary>The same exponential backoff with jitter as request retries, never below the minimum.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var delay = _refreshBackoff.DelayFor(attempt, Random.Shared.NextDouble());
        return delay < _settings.RetryMinBackoff ? _settings.RetryMinBackoff : delay;
    }

    // ---- session lifecycle -----------------------------------------------------------------------------

    /// <summary>The answers to the last session calls that carried an id: a repeat gets the same answer, unapplied.</summary>
    private readonly Dictionary<Guid, object> _answered = [];
    private readonly Queue<Guid> _answeredOrder = new();

    private bool Repeated(Guid callId)
    {
        if (callId == Guid.Empty || !_answered.TryGetValue(callId, out var answer))
        {
            return false;
        }

        Sender.Tell(answer);
        return true;
    }

    private void Answer(Guid callId, object answer)
    {
        Sender.Tell(answer);
        if (callId == Guid.Empty)
        {
            return;
        }

        _answered[callId] = answer;
        _answeredOrder.Enqueue(callId);
        if (_answeredOrder.Count > 256)
        {
            _answered.Remove(_answeredOrder.Dequeue());
        }
    }

    private void OnSignIn(SignIn signIn)
    {
        if (Repeated(signIn.CallId))
        {
            return;
        }

        if (SessionFence.IsOverdue(signIn.Deadline, Now, _log, Realm, "sign-in")) // fence: a failed call is never applied later
        {
            return;
        }

        if (signIn.Tokens?.Problem() is { } problem)
        {
            Sender.Tell(new Status.Failure(new InvalidRequestException(null, $"cannot sign in to realm '{Realm}': {problem}")));
            return;
        }

        NextGeneration(); // a refresh still running belongs to the old session
        Timers.Cancel(RetryTimer);
        Timers.Cancel(TimeoutTimer);
        // Maybe another user: nothing cached for the last session is served, or stored once it returns.
        _services.Caches?.ClearRealm(Realm, NextVersion);
        Adopt(TokenAnswers.Clamp(signIn.Tokens!, Now, _settings.MaxTokenLifetime), newSession: true);
        _log.SignedIn(Realm, _version);
        Answer(signIn.CallId, new SignedIn(Realm, _version) { CallId = signIn.CallId });
        BecomeReady();
    }

    private void OnTerminate(TerminateSession terminate)
    {
        if (Repeated(terminate.CallId))
        {
            return;
        }

        if (SessionFence.IsOverdue(terminate.Deadline, Now, _log, Realm, "session termination")) // fence: a failed call is never applied later
        {
            return;
        }

        NextGeneration();
        Timers.Cancel(RetryTimer);
        Timers.Cancel(TimeoutTimer);
        EndSession(string.IsNullOrWhiteSpace(terminate.Reason) ? "the session was terminated" : terminate.Reason);
        Answer(terminate.CallId, new SessionTerminated(Realm) { CallId = terminate.CallId });
        BecomeReady();
    }

    /// <summary>The version the next adopted token gets: above every token this realm has handed out.</summary>
    private long NextVersion => Math.Max(_version, _current?.Version ?? 0) + 1;

    private void Adopt(TokenSet tokens, bool newSession = false)
    {
        _version = NextVersion;
        _current = new StoredTokens(tokens, _version);
        _endedReason = null;
        _unusable = null;
        ClearFailure();
        _services.Sessions?.Started(Realm);
        var stored = _current;
        _lastWrite = _services.Writes.Track(_services.Store.SaveAsync(Realm, stored, CancellationToken.None));
        LogStoreFailure(_lastWrite, "save tokens to");
        ScheduleProactive();
        var granted = Grant(stored) with { NewSession = newSession };
        _answeredByPush.Clear();
        foreach (var subscriber in _subscribers)
        {
            subscriber.Tell(granted);
            if (_waiters.Contains(subscriber))
            {
                _answeredByPush.Add(subscriber);
            }
        }
    }

    private void EndSession(string reason)
    {
        var hadSession = _current is not null || _endedReason is null;
        _current = null;
        _endedReason = reason;
        _unusable = null;
        ClearFailure();
        _services.Sessions?.Ended(Realm, reason);
        _services.Caches?.ClearRealm(Realm, NextVersion);
        NextGeneration();
        Timers.Cancel(ProactiveTimer);
        Timers.Cancel(RetryTimer);
        Timers.Cancel(TimeoutTimer);
        _lastWrite = _services.Writes.Track(_services.Store.ClearAsync(Realm, CancellationToken.None));
        LogStoreFailure(_lastWrite, "clear");
        var denied = new TokenDenied(Realm, TokenDenial.SessionExpired, reason);
        foreach (var subscriber in _subscribers)
        {
            subscriber.Tell(denied);
        }

        if (hadSession)
        {
            _log.SessionEnded(Realm, reason);
            Publish(new SessionExpired(Realm, reason), _services.OnExpired);
        }
    }

    /// <summary>
    /// Starts the proactive timer for the current token. <paramref name="resumed"/>: the token was loaded from the
    /// store (a restart, or a new cluster singleton after a handover or a downed member), so the time it has left is
    /// not its lifetime and the proactive floor does not apply: a stored token close to or past its expiry is
    /// refreshed at once (one refresh, whose answer is judged against the floor as usual), rather than left until a
    /// request finds it expired.
    /// </summary>
    private void ScheduleProactive(bool resumed = false)
    {
        Timers.Cancel(ProactiveTimer);
        if (_current?.Tokens.EffectiveExpiry is not { } expiry || _services.Refresher is null)
        {
            return;
        }

        var now = Now;
        if (!resumed && expiry - now < _settings.ProactiveRefreshFloor)
        {
            // A lifetime this short is not a schedule: refreshing ahead of it would be a hot loop without traffic.
            _log.BelowFloor(Realm, _current.Version, (expiry - now).TotalMilliseconds);
            return;
        }

        var due = expiry - _settings.SkewFor(now, expiry) - now;
        if (_lastRefreshAt is { } last && last + _settings.MinRefreshInterval - now is var earliest && due < earliest)
        {
            due = earliest; // proactive refreshes never run more often than min-refresh-interval
        }

        Timers.StartSingleTimer(ProactiveTimer, RefreshDue.Instance, due > TimeSpan.Zero ? due : TimeSpan.Zero);
    }

    // ---- cluster mode ----------------------------------------------------------------------------------

    /// <summary>Subscribes a member's realm client: an acknowledgement, then the current state, never a refresh.</summary>
    private void OnSubscribeToken(SubscribeToken subscribe)
    {
        Subscribe();
        Sender.Tell(new TokenSubscribed(Realm));
        if (_current is { } current && TokenUsability.IsUsable(current.Tokens.EffectiveExpiry, Now))
        {
            Sender.Tell(Grant(current));
        }
        else if (_endedReason is { } reason)
        {
            Sender.Tell(new TokenDenied(Realm, TokenDenial.SessionExpired, reason));
        }
    }

    /// <summary>
    /// The singleton moves to another member: stop once the last token write has reached the store, so that the
    /// next singleton loads what this one had. Requests arriving meanwhile are left to the next singleton (the
    /// realm clients ask it again when they see this one stop).
    /// </summary>
    private void OnHandOver()
    {
        _log.HandingOver(Realm, _version);
        var self = Self;
        _lastWrite.ContinueWith(_ => self.Tell(PoisonPill.Instance), CancellationToken.None,
            TaskContinuationOptions.None, TaskScheduler.Default);
        Become(() => ReceiveAny(_ => { }));
    }

    /// <summary>
    /// fence: a newer singleton holds the session (this one was frozen, cut off, or runs in a second cluster), or
    /// this member is shutting down: never refresh, save or end the session again; answer what arrives until the
    /// singleton is handed over.
    /// </summary>
    private void StepDown(Exception lost)
    {
        SessionFence.LogStepDown(_log, Realm, lost);
        NextGeneration();
        Timers.CancelAll();
        _current = null;
        if (SessionFence.AnswersWaiters(lost))
        {
            DenyStashed(TokenDenial.Failed, lost.Message);
        }
        else
        {
            Stash.ClearStash();
            _stashed = 0;
        }

        Become(() =>
        {
            Receive<HandOver>(_ => OnHandOver());
            ReceiveAny(message => SessionFence.AnswerSteppedDown(message, Sender, Realm, lost));
        });
    }

    // ---- plumbing --------------------------------------------------------------------------------------

    private void Subscribe()
    {
        if (!Sender.IsNobody() && _subscribers.Add(Sender))
        {
            Context.Watch(Sender);
        }
    }

    private void StashBounded(object message)
    {
        if (_stashed >= _settings.StashCapacity)
        {
            if (message is GetToken)
            {
                Sender.Tell(new TokenDenied(Realm, TokenDenial.Overloaded,
                    $"{_stashed} token requests are already waiting for the refresh of realm '{Realm}'"));
            }
            else
            {
                Sender.Tell(new Status.Failure(new InvalidOperationException($"Auth realm '{Realm}' is overloaded.")));
            }

            return;
        }

        _stashed++;
        Stash.Stash();
        if (message is GetToken)
        {
            _waiters.Add(Sender);
        }
    }

    private void UnstashEverything()
    {
        _stashed = 0;
        _waiters.Clear();
        Stash.UnstashAll();
    }

    private void DenyStashed(TokenDenial denial, string reason)
    {
        // Answer the waiting askers now; keep the session.
        foreach (var envelope in Stash.ClearStash())
        {
            if (envelope.Message is GetToken)
            {
                envelope.Sender.Tell(new TokenDenied(Realm, denial, reason));
            }
            else
            {
                Self.Tell(envelope.Message, envelope.Sender);
            }
        }

        _stashed = 0;
        _waiters.Clear();
    }

    private void LogStoreFailure(Task write, string operation)
    {
        var log = _log;
        var realm = Realm;
        write.ContinueWith(t => log.StoreFailed(realm, operation, t.Exception!.InnerException!.GetType().Name),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private void Publish<T>(T @event, IReadOnlyList<Action<T>> callbacks) where T : notnull
    {
        if (_services.EventsToSubscribers)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Tell(@event);
            }

            return;
        }

        Context.System.EventStream.Publish(@event);
        RealmCallbacks.Run(@event, callbacks, Context.GetLogger());
    }

    private sealed record Loaded(StoredTokens? Tokens);

    private sealed record LoadFailed(Exception Error);

    private sealed record RefreshResult(long Generation, TokenSet? Tokens, Exception? Error);

    private sealed record RetryRefresh(long Generation);

    private sealed record RefreshTimedOut(long Generation);

    /// <summary>The last failed attempt to reach the token endpoint: why, when, and since when it has been failing.</summary>
    private sealed record FailedAttempt(string Reason, DateTimeOffset At, DateTimeOffset Since);

    /// <summary>An answer that could not become a token, for which tokens, and whether it used up their refresh token.</summary>
    private sealed record UnusableAnswer(StoredTokens? For, string Reason, DateTimeOffset At, bool SpentRefreshToken);

    private sealed class RefreshDue
    {
        public static readonly RefreshDue Instance = new();
    }
}

/// <summary>When a token may still be sent. One rule, used by the TokenActor and the host actors alike.</summary>
internal static class TokenUsability
{
    public static bool IsUsable(DateTimeOffset? expiresAt, DateTimeOffset now) => expiresAt is null || now < expiresAt;
}
