using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using NetActors.Auth;
using NetActors.Errors;
using NetActors.Configuration;

namespace NetActors.Cluster;

/// <summary>
/// One member's view of an auth realm in cluster mode. It stands where the realm's TokenActor stands in one
/// process (the gateway's child that host actors ask for tokens) while the TokenActor itself runs once in the
/// cluster as a singleton, reached through a singleton proxy.
/// <list type="bullet">
/// <item>It keeps the newest token it was granted: a request crosses the network only when its token is missing,
/// expired or rejected, and then once per stale version for the whole member, however many host actors wait.</item>
/// <item>It is subscribed to the singleton, which pushes every new token, the end of the session and the realm's
/// events: this member's host actors get the tokens; its event stream, callbacks and health state get the events.</item>
/// <item>Nothing waits forever on the network: a token request, sign-in or termination the singleton has not
/// answered within <c>token-request-timeout</c> is sent again, at once when the singleton is seen to stop
/// (a handover); a sign-in or termination fails with <see cref="NetworkException"/> after
/// <c>session-call-timeout</c>, and each request waiting for a token has its own total timeout.</item>
/// <item>Token versions it hands out never go backwards, even when a new singleton restarts the numbering (a
/// token store that is not shared): it maps the singleton's versions above every version it handed out before.</item>
/// </list>
/// </summary>
internal sealed class ClusterRealmClient : ReceiveActor, IWithTimers
{
    private const string AskAgainTimer = "ask-again";
    private const string NotJoinedTimer = "not-joined";

    private readonly RealmSettings _realm;
    private readonly RealmServices _services;
    private readonly ClusterSettings _settings;
    private readonly Counter<long> _remoteRequests;
    private readonly KeyValuePair<string, object?> _realmTag;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _subscribers = [];
    private readonly List<(IActorRef Asker, long StaleVersion)> _waiting = [];
    private readonly Queue<SessionCall> _calls = new();
    private readonly IActorRef _proxy;
    private readonly Akka.Cluster.Cluster _cluster;
    private bool _notJoinedTimedOut;
    private readonly DateTimeOffset _startedAt;
    private IActorRef? _singleton;
    private bool _subscribed;
    private TokenGranted? _token;
    private long _version;
    private long _askedFor = -1;
    private long _offset;
    private long _lastRemoteVersion;

    private ClusterRealmClient(RealmSettings realm, RealmServices services, ClusterSettings settings,
        string singletonManagerPath, Counter<long> remoteRequests)
    {
        _realm = realm;
        _services = services;
        _settings = settings;
        _remoteRequests = remoteRequests;
        _realmTag = new KeyValuePair<string, object?>("netactors.realm", realm.Name);
        var proxySettings = ClusterSingletonProxySettings.Create(Context.System).WithSingletonName(ClusterMode.SingletonName);
        if (settings.Role.Length > 0)
        {
            proxySettings = proxySettings.WithRole(settings.Role);
        }

        _proxy = Context.ActorOf(ClusterSingletonProxy.Props(singletonManagerPath, proxySettings), "singleton");
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _startedAt = services.Time.GetUtcNow();

        // From this member's host actors and gateway.
        Receive<GetToken>(OnGetToken);
        Receive<SignIn>(OnSignIn);
        Receive<TerminateSession>(call => Enqueue(call));

        // From the singleton.
        Receive<TokenSubscribed>(_ =>
        {
            NoteSingleton();
            _subscribed = true;
        });
        Receive<TokenGranted>(OnGranted);
        Receive<TokenDenied>(OnDenied);
        Receive<TokenUnavailable>(OnUnavailable);
        Receive<TokenInUse>(inUse => _proxy.Tell(inUse)); // the realm is in use on this member: the singleton's idle check
        Receive<SignedIn>(signedIn => Answered<SignIn>(signedIn with { Version = signedIn.Version + _offset }));
        Receive<SessionTerminated>(Answered<TerminateSession>);
        Receive<Status.Failure>(Answered<object>);
        Receive<TokenRefreshed>(OnRefreshed);
        Receive<SessionExpired>(OnExpired);

        Receive<AskAgain>(_ => OnAskAgain());
        Receive<NotJoinedCheck>(_ => OnNotJoinedCheck());
        Receive<Terminated>(OnTerminated);
    }

    public static Props Props(RealmSettings realm, RealmServices services, ClusterSettings settings,
        string singletonManagerPath, Counter<long> remoteRequests) =>
        ActorProps.Of(() => new ClusterRealmClient(realm, services, settings, singletonManagerPath, remoteRequests));

    public ITimerScheduler Timers { get; set; } = null!;

    private string Realm => _realm.Name;

    protected override void PreStart()
    {
        Subscribe();
        Timers.StartSingleTimer(NotJoinedTimer, NotJoinedCheck.Instance, _settings.NotJoinedTimeout);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        _log.Warning("Auth realm {0}: the cluster realm client failed ({1}); restarting", Realm, reason.GetType().Name);
        var denied = new TokenDenied(Realm, TokenDenial.Failed, "the auth realm's cluster client failed; see the log");
        foreach (var asker in _waiting.Select(w => w.Asker).Distinct())
        {
            asker.Tell(denied);
        }

        foreach (var call in _calls)
        {
            call.ReplyTo.Tell(new Status.Failure(new NetRuntimeException(null, denied.Reason, reason)));
        }

        base.PreRestart(reason, message);
    }

    // ---- this member's host actors -------------------------------------------------------------------

    private void OnGetToken(GetToken request)
    {
        if (_subscribers.Add(Sender))
        {
            Context.Watch(Sender);
        }

        if (_token is { } token && token.Version > request.StaleVersion &&
            TokenUsability.IsUsable(token.ExpiresAt, _services.Time.GetUtcNow()))
        {
            Sender.Tell(token);
            return;
        }

        if (NotJoined)
        {
            Sender.Tell(new TokenDenied(Realm, TokenDenial.ClusterUnavailable, NotJoinedReason));
            return;
        }

        _waiting.Add((Sender, request.StaleVersion));
        AskFor(request.StaleVersion);
    }

    private void AskFor(long staleVersion)
    {
        if (staleVersion <= _askedFor)
        {
            return;
        }

        _askedFor = staleVersion;
        SendAsk();
    }

    private void SendAsk()
    {
        _proxy.Tell(new GetToken(Realm, Math.Max(0, _askedFor - _offset)));
        _remoteRequests.Add(1, _realmTag);
        ArmAskAgain();
    }

    // ---- sign-in and termination: one at a time, answered to the caller -----------------------------

    private void OnSignIn(SignIn signIn)
    {
        if ((signIn.Tokens is null ? "no tokens were given." : signIn.Tokens.Problem()) is { } problem)
        {
            Sender.Tell(new Status.Failure(new InvalidRequestException(null, $"cannot sign in to realm '{Realm}': {problem}")));
            return;
        }

        Enqueue(signIn with { CallId = Guid.NewGuid() });
    }

    private void Enqueue(object call)
    {
        if (NotJoined)
        {
            // Not sent at all: nothing is buffered that could be applied once the member joins.
            Sender.Tell(new Status.Failure(new ClusterUnavailableException(null, Realm, NotJoinedReason)));
            return;
        }

        // The call carries a deadline a little before its caller's: the singleton drops any copy that arrives
        // after it, and an answer sent just before it still has time to reach this member before the caller is
        // told the call failed. So a call that failed for its caller is never applied later.
        var failsAt = _services.Time.GetUtcNow() + _settings.SessionCallTimeout;
        var deadline = failsAt - _settings.SessionCallGrace;
        if (!IsUp())
        {
            // Not joined yet: the call may fail at not-joined-timeout, so no copy may be applied after that.
            var notJoinedAt = _startedAt + _settings.NotJoinedTimeout - _settings.SessionCallGrace;
            deadline = deadline < notJoinedAt ? deadline : notJoinedAt;
        }

        call = call switch
        {
            TerminateSession terminate => terminate with
            {
                CallId = terminate.CallId == Guid.Empty ? Guid.NewGuid() : terminate.CallId, Deadline = deadline,
            },
            SignIn signIn => signIn with { Deadline = deadline },
            _ => call,
        };

        _calls.Enqueue(new SessionCall(call, Sender, failsAt));
        if (_calls.Count == 1)
        {
            SendCall();
        }
    }

    private void SendCall()
    {
        _proxy.Tell(_calls.Peek().Message);
        ArmAskAgain();
    }

    /// <summary>The singleton answered the call at the head of the queue (a reply of another kind is a late duplicate).</summary>
    private void Answered<TCall>(object answer)
    {
        NoteSingleton();
        if (!_calls.TryPeek(out var call) || call.Message is not TCall || CallIdOf(answer) is { } answered && answered != CallIdOf(call.Message))
        {
            return; // a late answer to an earlier copy of an earlier call
        }

        _calls.Dequeue();
        if (answer is SignedIn signedInHere)
        {
            // Before the caller hears of it: the next request on this member sees no earlier session's responses.
            _services.Caches?.ClearRealm(Realm, signedInHere.Version);
        }

        call.ReplyTo.Tell(answer);
        if (answer is SignedIn signedIn && (_token is null || _token.Version < signedIn.Version))
        {
            Subscribe(); // not subscribed to this singleton yet: the acknowledgement brings the new token
        }

        if (_calls.Count > 0)
        {
            SendCall();
        }
    }

    private static Guid? CallIdOf(object message) => message switch
    {
        SignIn m => m.CallId,
        SignedIn m => m.CallId,
        TerminateSession m => m.CallId,
        SessionTerminated m => m.CallId,
        _ => null,
    };

    // ---- from the singleton --------------------------------------------------------------------------

    private void OnGranted(TokenGranted granted)
    {
        NoteSingleton();
        if (granted.Version < _lastRemoteVersion && granted.Version + _offset <= _version)
        {
            // A new singleton numbers from 1 again (its store did not have the tokens): keep ours growing.
            _offset = _version + 1 - granted.Version;
            _log.Info("Auth realm {0}: the realm's singleton restarted its token versions; continuing above {1}", Realm, _version);
        }

        _lastRemoteVersion = granted.Version;
        var local = granted with { Version = granted.Version + _offset, NewSession = false };
        if (granted.NewSession)
        {
            // Someone signed in (on any member): this member's cached responses of the last session must go.
            _services.Caches?.ClearRealm(Realm, local.Version);
        }

        if (_token is null || local.Version >= _token.Version)
        {
            _token = local;
        }

        _version = Math.Max(_version, local.Version);
        _services.Sessions?.Started(Realm);
        foreach (var subscriber in _subscribers)
        {
            subscriber.Tell(_token);
        }

        // The waiting askers are subscribers: the push above answered those it satisfies.
        _waiting.RemoveAll(w => w.StaleVersion < _token.Version);
        _askedFor = -1;
        if (_waiting.Count > 0)
        {
            AskFor(_waiting.Max(w => w.StaleVersion));
        }
    }

    /// <summary>
    /// The singleton's token endpoint cannot be reached: this member's waiting host actors hear it as they would from
    /// a TokenActor in their own process, so a request whose budget cannot cover the next retry fails with
    /// <see cref="Errors.TokenUnavailableException"/> instead of a bare timeout. They keep waiting for the token.
    /// </summary>
    private void OnUnavailable(TokenUnavailable notice)
    {
        foreach (var asker in _waiting.Select(w => w.Asker).Distinct())
        {
            asker.Tell(notice);
        }
    }

    private void OnDenied(TokenDenied denied)
    {
        NoteSingleton();
        if (denied.Denial == TokenDenial.SessionExpired)
        {
            // Every host actor learns that the session has ended (as they do from the TokenActor in one process),
            // and nothing this member cached for it is served any more.
            _services.Caches?.ClearRealm(Realm, _version + 1);
            _token = null;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Tell(denied);
            }
        }
        else
        {
            foreach (var asker in _waiting.Select(w => w.Asker).Distinct())
            {
                asker.Tell(denied);
            }
        }

        _waiting.Clear();
        _askedFor = -1;
    }

    private void OnRefreshed(TokenRefreshed refreshed)
    {
        var local = refreshed with { Version = refreshed.Version + _offset };
        Context.System.EventStream.Publish(local);
        RealmCallbacks.Run(local, _services.OnRefreshed, _log);
    }

    private void OnExpired(SessionExpired expired)
    {
        _services.Sessions?.Ended(Realm, expired.Reason);
        Context.System.EventStream.Publish(expired);
        RealmCallbacks.Run(expired, _services.OnExpired, _log);
    }

    // ---- the singleton moving, or not answering ------------------------------------------------------

    private void Subscribe()
    {
        _proxy.Tell(new SubscribeToken(Realm));
        ArmAskAgain();
    }

    /// <summary>The sender is the singleton: watch it, to notice a handover at once.</summary>
    private void NoteSingleton()
    {
        if (Sender.Equals(_singleton) || Sender.IsNobody())
        {
            return;
        }

        if (_singleton is not null)
        {
            Context.Unwatch(_singleton);
        }

        _singleton = Sender;
        Context.Watch(_singleton);
    }

    private void OnTerminated(Terminated terminated)
    {
        if (!terminated.ActorRef.Equals(_singleton))
        {
            _subscribers.Remove(terminated.ActorRef);
            _waiting.RemoveAll(w => w.Asker.Equals(terminated.ActorRef));
            return;
        }

        _log.Info("Auth realm {0}: the realm's singleton stopped (it is moving to another member); asking the next one", Realm);
        _singleton = null;
        _subscribed = false;
        AskAgainNow();
    }

    private void OnAskAgain()
    {
        while (_calls.TryPeek(out var call) && call.Deadline <= _services.Time.GetUtcNow())
        {
            _calls.Dequeue();
            call.ReplyTo.Tell(new Status.Failure(new NetworkException(null,
                $"auth realm '{Realm}' did not answer within {_settings.SessionCallTimeout.TotalSeconds:0.###} s: " +
                "its cluster singleton was not reachable", null)));
        }

        AskAgainNow();
    }

    private void AskAgainNow()
    {
        if (!_subscribed)
        {
            Subscribe();
        }

        if (_waiting.Count > 0)
        {
            SendAsk();
        }

        if (_calls.Count > 0)
        {
            SendCall();
        }
    }

    // ---- a member that has not joined ----------------------------------------------------------------

    /// <summary>True once this member has gone <c>not-joined-timeout</c> without joining, until it joins.</summary>
    private bool NotJoined
    {
        get
        {
            if (_notJoinedTimedOut && IsUp())
            {
                _notJoinedTimedOut = false;
            }

            return _notJoinedTimedOut;
        }
    }

    private string NotJoinedReason =>
        $"this member has not joined a cluster within {_settings.NotJoinedTimeout.TotalSeconds:0.###} s of starting " +
        "(no seed node reachable?), so the realm's singleton cannot be reached";

    private bool IsUp() => _cluster.SelfMember.Status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.Leaving;

    /// <summary>
    /// <c>not-joined-timeout</c> after the start: a member that has not joined fails what waits for the singleton
    /// (and, until it joins, what arrives) with a typed error instead of letting it run into its total timeout.
    /// </summary>
    private void OnNotJoinedCheck()
    {
        if (IsUp())
        {
            return;
        }

        _notJoinedTimedOut = true;
        _log.Warning("Auth realm {0}: {1}; failing its token requests and session calls with ClusterUnavailableException until it joins",
            Realm, NotJoinedReason);
        var denied = new TokenDenied(Realm, TokenDenial.ClusterUnavailable, NotJoinedReason);
        foreach (var asker in _waiting.Select(w => w.Asker).Distinct())
        {
            asker.Tell(denied);
        }

        _waiting.Clear();
        _askedFor = -1;
        while (_calls.TryDequeue(out var call))
        {
            call.ReplyTo.Tell(new Status.Failure(new ClusterUnavailableException(null, Realm, NotJoinedReason)));
        }
    }

    private void ArmAskAgain() => Timers.StartSingleTimer(AskAgainTimer, AskAgain.Instance, _settings.TokenRequestTimeout);

    private sealed record SessionCall(object Message, IActorRef ReplyTo, DateTimeOffset Deadline);

    private sealed class AskAgain
    {
        public static readonly AskAgain Instance = new();
    }

    private sealed class NotJoinedCheck
    {
        public static readonly NotJoinedCheck Instance = new();
    }
}
