using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using NetActors.Errors;

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
/// refreshes ahead of expiry. A rejected refresh ends the session (store cleared, waiting requests denied, the
/// <see cref="SessionExpired"/> event once); an unreachable token endpoint is retried with backoff and does not.
/// Async work returns through <c>PipeTo</c> tagged with a generation; results of an older generation are ignored.
/// Tokens live in the <see cref="ITokenStore"/>, so a restarted actor resumes with them.
/// </summary>
internal sealed class TokenActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private const string ProactiveTimer = "proactive-refresh";
    private const string RetryTimer = "retry-refresh";

    private readonly RealmSettings _settings;
    private readonly RealmServices _services;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _subscribers = [];
    private StoredTokens? _current;
    private long _version;
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
    private readonly Resilience.RetrySettings _refreshBackoff;

    private TokenActor(RealmSettings settings, RealmServices services)
    {
        _settings = settings;
        _services = services;
        _refreshBackoff = new Resilience.RetrySettings
        {
            BaseDelay = settings.RetryMinBackoff, Factor = 2, MaxDelay = settings.RetryMaxBackoff, Jitter = 0.5,
        };
        Loading();
    }

    public static Props Props(RealmSettings settings, RealmServices services) =>
        Hosting.ActorProps.Of(() => new TokenActor(settings, services));

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
        _log.Warning("Auth realm {0}: the token actor failed ({1}); restarting with the stored tokens", Realm, reason.GetType().Name);
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
                ScheduleProactive();
                _log.Info("Auth realm {0}: resumed tokens (version {1}) from the store", Realm, stored.Version);
            }

            BecomeReady();
        });
        Receive<LoadFailed>(failed =>
        {
            _log.Warning("Auth realm {0}: could not load tokens from the store ({1}); starting without a session",
                Realm, failed.Error.GetType().Name);
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
            if (CanRefresh)
            {
                StartRefresh(proactive: true);
            }
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<SubscribeToken>(OnSubscribeToken);
        Receive<HandOver>(_ => OnHandOver());
        Receive<RefreshResult>(r => _log.Debug("Auth realm {0}: ignored a refresh result of generation {1}", Realm, r.Generation));
        Receive<RetryRefresh>(_ => { });
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

            StashBounded(request);
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
        Receive<SignIn>(OnSignIn);
        Receive<TerminateSession>(OnTerminate);
        Receive<RefreshDue>(_ => { });
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
            _log.Info("Auth realm {0}: handing over once the refresh on the wire has ended", Realm);
            _handingOver = true;
        });
    }

    // ---- Ready ----------------------------------------------------------------------------------------

    private void OnGetTokenReady(GetToken request)
    {
        Subscribe();
        if (UsableNewerThan(request.StaleVersion) is { } token)
        {
            Sender.Tell(Grant(token));
            return;
        }

        if (CanRefresh)
        {
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
        _refreshCts?.Dispose();
        _refreshCts = new CancellationTokenSource(_settings.RefreshTimeout);
        var context = new TokenRefreshContext(Realm, _current?.Tokens, _settings.TokenClient, _services.Send);
        Task<TokenSet> refresh;
        try
        {
            refresh = _services.Refresher!.RefreshAsync(context, _refreshCts.Token);
        }
        catch (Exception e)
        {
            refresh = Task.FromException<TokenSet>(e);
        }

        refresh.PipeTo(Self,
            success: tokens => new RefreshResult(generation, tokens, null),
            failure: error => new RefreshResult(generation, null, error));
    }

    private void OnRefreshResult(RefreshResult result)
    {
        if (result.Generation != _generation)
        {
            _log.Debug("Auth realm {0}: ignored a stale refresh result (generation {1}, now {2})", Realm, result.Generation, _generation);
            return;
        }

        _refreshInFlight = false;

        var elapsed = Stopwatch.GetElapsedTime(_refreshStarted);
        if (result.Tokens is { } expired && expired.Problem() is null && !TokenUsability.IsUsable(expired.EffectiveExpiry, Now))
        {
            result = result with
            {
                Tokens = null,
                Error = new ResponseFormatException(null, "the token endpoint returned a token that is already expired (check the clocks).", null),
            };
        }

        var outcome = result.Tokens is { } ok && ok.Problem() is null ? "success"
            : Unwrap(result.Error) switch { TokenRejectedException => "rejected", null or ResponseFormatException => "malformed", _ => "failed" };
        _services.Metrics?.TokenRefreshes.Add(1, new KeyValuePair<string, object?>("netactors.realm", Realm),
            new KeyValuePair<string, object?>("netactors.outcome", outcome));

        if (result.Tokens is { } tokens && tokens.Problem() is null)
        {
            Adopt(tokens);
            _log.Info("Auth realm {0}: refreshed token (version {1}) in {2:0} ms{3}", Realm, _version,
                elapsed.TotalMilliseconds, _refreshIsProactive ? " ahead of expiry" : string.Empty);
            Publish(new TokenRefreshed(Realm, _version, tokens.EffectiveExpiry, _refreshIsProactive), _services.OnRefreshed);
            BecomeReady();
            return;
        }

        var error = Unwrap(result.Error);
        switch (error)
        {
            case TokenRejectedException rejected:
                _log.Warning("Auth realm {0}: the refresh was rejected ({1}); ending the session", Realm, rejected.Reason);
                EndSession(rejected.Reason);
                // Answer the waiters now: unstashed into Ready, a refresher that needs no session (client
                // credentials, a delegate) would start the rejected refresh again, and again.
                DenyStashed(TokenDenial.SessionExpired, rejected.Reason);
                Become(Ready);
                return;

            case null or ResponseFormatException:
                var problem = error?.Message ?? "the refresher returned tokens that cannot be sent: " + result.Tokens!.Problem();
                _log.Warning("Auth realm {0}: the refresh answer could not be used: {1}", Realm, problem);
                DenyStashed(TokenDenial.Malformed, problem);
                Become(Ready);
                return;

            case var lost when Cluster.SessionFence.IsLost(lost): // fence: a newer singleton holds the session
                StepDown(lost);
                return;

            default:
                var delay = Backoff(++_retries);
                _log.Warning("Auth realm {0}: refresh failed ({1}: {2}); retrying in {3:0} ms, the session is kept",
                    Realm, error.GetType().Name, error.Message, delay.TotalMilliseconds);
                Timers.StartSingleTimer(RetryTimer, new RetryRefresh(_generation), delay);
                return;
        }
    }

    /// <summary>
    /// A new generation, unique across incarnations: a result of a refresh started before a restart can never
    /// pass for one started after it.
    /// </summary>
    private long NextGeneration()
    {
        _refreshInFlight = false; // a refresh of an earlier generation no longer counts
        return _generation = Interlocked.Increment(ref s_generations);
    }

    private static Exception? Unwrap(Exception? error) =>
        error is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerException : error;

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

        if (Cluster.SessionFence.IsOverdue(signIn.Deadline, Now, _log, Realm, "sign-in")) // fence: a failed call is never applied later
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
        // Maybe another user: nothing cached for the last session is served, or stored once it returns.
        _services.Caches?.ClearRealm(Realm, NextVersion);
        Adopt(signIn.Tokens!, newSession: true);
        _log.Info("Auth realm {0}: signed in (token version {1})", Realm, _version);
        Answer(signIn.CallId, new SignedIn(Realm, _version) { CallId = signIn.CallId });
        BecomeReady();
    }

    private void OnTerminate(TerminateSession terminate)
    {
        if (Repeated(terminate.CallId))
        {
            return;
        }

        if (Cluster.SessionFence.IsOverdue(terminate.Deadline, Now, _log, Realm, "session termination")) // fence: a failed call is never applied later
        {
            return;
        }

        NextGeneration();
        Timers.Cancel(RetryTimer);
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
        _services.Sessions?.Started(Realm);
        _retries = 0;
        var stored = _current;
        _lastWrite = _services.Writes.Track(_services.Store.SaveAsync(Realm, stored, CancellationToken.None));
        _lastWrite.ContinueWith(
            static (t, state) => ((ILoggingAdapter)state!).Warning("Could not save tokens to the store: {0}",
                t.Exception!.InnerException!.GetType().Name),
            _log, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        ScheduleProactive();
        var granted = Grant(stored) with { NewSession = newSession };
        foreach (var subscriber in _subscribers)
        {
            subscriber.Tell(granted);
        }
    }

    private void EndSession(string reason)
    {
        var hadSession = _current is not null || _endedReason is null;
        _current = null;
        _endedReason = reason;
        _services.Sessions?.Ended(Realm, reason);
        _services.Caches?.ClearRealm(Realm, NextVersion);
        NextGeneration();
        Timers.Cancel(ProactiveTimer);
        Timers.Cancel(RetryTimer);
        _lastWrite = _services.Writes.Track(_services.Store.ClearAsync(Realm, CancellationToken.None));
        _lastWrite.ContinueWith(
            static (t, state) => ((ILoggingAdapter)state!).Warning("Could not clear the token store: {0}",
                t.Exception!.InnerException!.GetType().Name),
            _log, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        var denied = new TokenDenied(Realm, TokenDenial.SessionExpired, reason);
        foreach (var subscriber in _subscribers)
        {
            subscriber.Tell(denied);
        }

        if (hadSession)
        {
            Publish(new SessionExpired(Realm, reason), _services.OnExpired);
        }
    }

    private void ScheduleProactive()
    {
        Timers.Cancel(ProactiveTimer);
        if (_current?.Tokens.EffectiveExpiry is not { } expiry || _services.Refresher is null)
        {
            return;
        }

        var now = Now;
        var due = expiry - _settings.SkewFor(now, expiry) - now;
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
        _log.Info("Auth realm {0}: handing over to another cluster member (token version {1})", Realm, _version);
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
        Cluster.SessionFence.LogStepDown(_log, Realm, lost);
        NextGeneration();
        Timers.CancelAll();
        _current = null;
        if (Cluster.SessionFence.AnswersWaiters(lost))
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
            ReceiveAny(message => Cluster.SessionFence.AnswerSteppedDown(message, Sender, Realm, lost));
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
    }

    private void UnstashEverything()
    {
        _stashed = 0;
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
        RealmCallbacks.Run(@event, callbacks, _log);
    }

    private sealed record Loaded(StoredTokens? Tokens);

    private sealed record LoadFailed(Exception Error);

    private sealed record RefreshResult(long Generation, TokenSet? Tokens, Exception? Error);

    private sealed record RetryRefresh(long Generation);

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
