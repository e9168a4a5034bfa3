using Akka.Actor;
using Akka.Event;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosts;
using NetActors.Resilience;
using NetActors.Telemetry;

namespace NetActors.Gateway;

/// <summary>
/// The entry actor of the runtime, registered in the <c>ActorRegistry</c> under this type. Tell or Ask it a
/// <see cref="NetRequest"/>: the reply is a <see cref="NetResponse"/>, or a <see cref="Status.Failure"/> with a
/// <see cref="NetException"/>. It resolves the client, routes the request to the host actor of its origin
/// (creating and supervising one per origin on first use) and does nothing slow itself.
/// </summary>
public sealed class NetGateway : ReceiveActor
{
    private readonly GatewayServices _runtime;
    private readonly NetActorsSettings _settings;
    private readonly Dictionary<string, HostEntry> _hosts = new(StringComparer.Ordinal);
    private bool _draining;
    private readonly Dictionary<string, ClientSettings> _declaredOrigins = new(StringComparer.Ordinal);
    private readonly HostContext _hostContext;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _hostCounter;

    private NetGateway(GatewayServices runtime, NetActorsSettings settings)
    {
        _runtime = runtime;
        _settings = settings;
        foreach (var client in settings.Clients.Values)
        {
            if (client.BaseOrigin is { } origin)
            {
                _declaredOrigins.TryAdd(origin, client);
            }
        }

        var realms = new Dictionary<string, RealmRoute>(StringComparer.Ordinal);
        foreach (var realm in settings.Realms.Values)
        {
            realms[realm.Name] = new RealmRoute(realm, StartRealm(realm), realm.DPoPKey is { } key ? new DPoPProofs(key) : null);
        }

        _realms = realms;
        _hostContext = new HostContext(Self, realms, runtime.Time, runtime.Metrics, runtime.RequestLog, runtime.Caches,
            runtime.JsonFor, runtime.CreateInvoker, runtime.FleetMembers);

        // The declared origins' host actors exist from the start, so the facade can send to them directly from
        // its first request on (a request never overtakes an earlier one of the same sender through the gateway).
        foreach (var (origin, client) in _declaredOrigins)
        {
            HostFor(origin, client);
        }

        _router = new Gateway.RequestRouter(settings, runtime.Setup, new Dictionary<string, HostEntry>(_hosts, StringComparer.Ordinal));
        runtime.Traffic.PublishRouter(_router);
        Receive<Exchange>(Route);
        Receive<NetRequest>(request => Route(NetActivity.Told(Exchange.ForActor(request, Sender)))); // telemetry: the sender's trace
        Receive<SignIn>(m => ToRealm(m.Realm, m));
        Receive<TerminateSession>(m => ToRealm(m.Realm, m));
        Receive<Drain>(_ => OnDrain());
        Receive<OriginIdle>(OnOriginIdle);
        Receive<Terminated>(t => OnHostStopped(t.ActorRef));
    }

    /// <summary>
    /// Graceful shutdown: no new requests; every host fails its queued and waiting requests and answers when
    /// nothing of it is on the wire. The reply (<see cref="Drained"/>) comes when all hosts have answered.
    /// </summary>
    private void OnDrain()
    {
        _draining = true;
        var timeout = _settings.DrainTimeout;
        var hosts = _hosts.Values.Select(h => h.Actor).ToList();
        Task.WhenAll(hosts.Select(h => h.Ask<Drained>(Drain.Instance, timeout)))
            .ContinueWith(static t =>
            {
                // A host that has not drained in time fails its Ask: observed here (what is still on the wire is
                // failed when its host stops), so no task exception is left unobserved.
                _ = t.Exception;
                return Drained.Instance;
            }, TaskScheduler.Default)
            .PipeTo(Sender);
    }

    private readonly IReadOnlyDictionary<string, RealmRoute> _realms;
    private Gateway.RequestRouter _router;

    private IActorRef StartRealm(RealmSettings realm)
    {
        var registration = _runtime.Setup?.Realms.GetValueOrDefault(realm.Name);
        var store = registration?.Store ?? _runtime.Stores.GetOrAdd(realm.Name, _ => realm.StoreType == "file"
            ? new FileTokenStore(realm.StorePath)
            : new MemoryTokenStore());
        var self = Self;
        var services = new RealmServices(
            TokenRefreshers.Create(realm, registration?.Refresher),
            store,
            (request, ct) =>
            {
                // Refresh calls go through the runtime, ahead of their origin's queue, never retried by it.
                var exchange = Exchange.ForTask(request.WithTimeout(realm.RefreshTimeout), ct, priority: true);
                exchange.Span = NetActivity.Begin(request.Method, System.Diagnostics.Activity.Current); // telemetry: a child of the refresh's span
                self.Tell(exchange);
                return exchange.Task;
            },
            registration?.OnExpired ?? [],
            registration?.OnRefreshed ?? [],
            _runtime.Time,
            _runtime.Metrics,
            _runtime.Sessions,
            _runtime.Caches,
            _runtime.StoreWrites);
        return _runtime.RealmPlacement.Start(Context, realm, services);
    }

    private void ToRealm(string realm, object message)
    {
        if (_realms.TryGetValue(realm ?? string.Empty, out var route))
        {
            route.TokenActor.Forward(message);
            return;
        }

        Sender.Tell(new Status.Failure(new InvalidRequestException(null,
            $"no auth realm named '{realm}' is configured (configured: {string.Join(", ", _realms.Keys.Order())}).")));
    }

    internal static Props Props(GatewayServices runtime, NetActorsSettings settings) =>
        ActorProps.Of(() => new NetGateway(runtime, settings));

    /// <summary>
    /// A host actor that crashes handling a message is restarted: the request in hand fails, the others go on. One
    /// that cannot even be created (its services are gone: the host's service provider was disposed) is stopped
    /// instead, since restarting it would fail the same way for ever; the requests it held fail (with
    /// <see cref="NetShutdownException"/> when the runtime is going away, else <see cref="NetRuntimeException"/>), and
    /// the origin is created again on its next request.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, -1, e => e is ActorInitializationException or ObjectDisposedException || _runtime.IsDisposed
            ? Directive.Stop
            : Directive.Restart, loggingEnabled: false);

    /// <summary>An idle origin asks to be removed: only if nothing was admitted to it since it asked.</summary>
    private void OnOriginIdle(OriginIdle idle)
    {
        if (!_hosts.TryGetValue(idle.Origin, out var host) || !ReferenceEquals(host.Ledger, idle.Ledger) ||
            !host.Ledger.IsEmpty || _declaredOrigins.ContainsKey(idle.Origin))
        {
            return;
        }

        // Only this actor admits requests to an undeclared origin, so nothing can reach the host after this.
        _hosts.Remove(idle.Origin);
        Context.Unwatch(host.Actor);
        Context.Stop(host.Actor);
        _runtime.ForgetOrigin(idle.Origin);
        _log.Debug("Host actor {Actor} for {Origin} removed after idle-origin-timeout", host.Actor.Path.Name, idle.Origin);
    }

    /// <summary>A host actor stopped by its supervisor: the next request for its origin creates a new one.</summary>
    private void OnHostStopped(IActorRef actor)
    {
        foreach (var (origin, host) in _hosts)
        {
            if (host.Actor.Equals(actor))
            {
                _hosts.Remove(origin);
                if (_declaredOrigins.ContainsKey(origin) && !_runtime.IsDisposed)
                {
                    // The facade sends straight to declared hosts: it must route this origin through here again.
                    _router = _router.Without(origin);
                    _runtime.Traffic.PublishRouter(_router);
                }

                _log.Warning("Host actor for {Origin} stopped; its origin is created again on its next request", origin);
                return;
            }
        }
    }

    private void Route(Exchange ex)
    {
        try
        {
            RouteCore(ex);
        }
        finally
        {
            if (ex.CountedInGateway)
            {
                // Only now, after it is in its host's mailbox, may the facade send later requests there directly.
                ex.CountedInGateway = false;
                _runtime.Traffic.LeftGateway();
            }
        }
    }

    private void RouteCore(Exchange ex)
    {
        if (ex.IsCompleted)
        {
            return;
        }

        if (_draining)
        {
            ex.TryFail(new NetShutdownException(ex.Info()));
            ex.Release();
            return;
        }

        if (ex.Client is null && _router.Resolve(ex) is { } problem)
        {
            Reject(ex, problem);
            return;
        }

        var host = HostFor(ex.OriginKey, ex.Client!); // resolved: by the facade, or just above
        if (!host.Ledger.TryEnter(ex))
        {
            ex.TryFail(new OverloadedException(ex.Info(), ex.OriginKey, host.Ledger.QueueCapacity));
            ex.Release();
            return;
        }

        host.Actor.Tell(ex);
    }

    private HostEntry HostFor(string origin, ClientSettings sender)
    {
        if (_hosts.TryGetValue(origin, out var host))
        {
            return host;
        }

        // The connection budget of an origin is the one of the client that declares it as its base address;
        // an origin no client declares (an absolute URL, a redirect) takes the sending client's.
        var connection = _declaredOrigins.TryGetValue(origin, out var declared) ? declared : sender;
        var ledger = new AdmissionLedger(connection.MaxConnections, connection.QueueCapacity, _runtime.Time, connection.CircuitBreaker,
            AdaptiveLimit.Create(connection.AdaptiveConcurrency, connection.MaxConnections, _runtime.Time),
            connection.AdaptiveRate.Enabled
                ? new AdaptiveRate(connection.AdaptiveRate, connection.RateLimit.PermitsPerSecond, _runtime.Time)
                : null);
        var actor = Context.ActorOf(HostActor.Props(_hostContext, origin, connection, ledger,
            evictable: !_declaredOrigins.ContainsKey(origin)), $"host-{++_hostCounter}");
        Context.Watch(actor);
        host = new HostEntry(actor, ledger);
        _hosts[origin] = host;
        _log.Debug("Host actor {Actor} created for {Origin} (max-connections {MaxConnections}, queue-capacity {QueueCapacity})",
            actor.Path.Name, origin, connection.MaxConnections, connection.QueueCapacity);
        return host;
    }

    private static void Reject(Exchange ex, string problem)
    {
        ex.TryFail(new InvalidRequestException(ex.Info(), problem));
        ex.Release();
    }
}
