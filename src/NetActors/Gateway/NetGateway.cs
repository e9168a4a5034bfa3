using Akka.Actor;
using Akka.Event;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Hosts;
using NetActors.Telemetry;

namespace NetActors;

/// <summary>
/// The entry actor of the runtime, registered in the <c>ActorRegistry</c> under this type. Tell or Ask it a
/// <see cref="NetRequest"/>: the reply is a <see cref="NetResponse"/>, or a <see cref="Status.Failure"/> with a
/// <see cref="NetException"/>. It resolves the client, routes the request to the host actor of its origin
/// (creating and supervising one per origin on first use) and does nothing slow itself.
/// </summary>
public sealed class NetGateway : ReceiveActor
{
    private readonly NetActorsRuntime _runtime;
    private readonly NetActorsSettings _settings;
    private readonly Dictionary<string, IActorRef> _hosts = new(StringComparer.Ordinal);
    private bool _draining;
    private readonly Dictionary<string, ClientSettings> _declaredOrigins = new(StringComparer.Ordinal);
    private readonly HostContext _hostContext;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _hostCounter;

    private NetGateway(NetActorsRuntime runtime, NetActorsSettings settings)
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
            realms[realm.Name] = new RealmRoute(realm, StartRealm(realm));
        }

        _realms = realms;
        _hostContext = new HostContext(Self, runtime, runtime.RequestLog, realms);

        // The declared origins' host actors exist from the start, so the facade can send to them directly from
        // its first request on (a request never overtakes an earlier one of the same sender through the gateway).
        foreach (var (origin, client) in _declaredOrigins)
        {
            HostFor(origin, client);
        }

        _router = new Gateway.RequestRouter(settings, runtime.Setup, new Dictionary<string, IActorRef>(_hosts, StringComparer.Ordinal));
        runtime.PublishRouter(_router);
        Receive<Exchange>(Route);
        Receive<NetRequest>(request => Route(Exchange.ForActor(request, Sender)));
        Receive<SignIn>(m => ToRealm(m.Realm, m));
        Receive<TerminateSession>(m => ToRealm(m.Realm, m));
        Receive<GetToken>(m => ToRealm(m.Realm, m));
        Receive<Drain>(_ => OnDrain());
    }

    /// <summary>
    /// Graceful shutdown: no new requests; every host fails its queued and waiting requests and answers when
    /// nothing of it is on the wire. The reply (<see cref="Drained"/>) comes when all hosts have answered.
    /// </summary>
    private void OnDrain()
    {
        _draining = true;
        var timeout = _settings.DrainTimeout;
        var hosts = _hosts.Values.ToList();
        Task.WhenAll(hosts.Select(h => h.Ask<Drained>(Drain.Instance, timeout)))
            .ContinueWith(_ => Drained.Instance, TaskScheduler.Default)
            .PipeTo(Sender);
    }

    private readonly IReadOnlyDictionary<string, RealmRoute> _realms;
    private readonly Gateway.RequestRouter _router;

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

    internal static Props Props(NetActorsRuntime runtime, NetActorsSettings settings) =>
        ActorProps.Of(() => new NetGateway(runtime, settings));

    /// <summary>Host actors that crash are restarted; the requests they held are failed, others go on.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, -1, _ => Directive.Restart, loggingEnabled: false);

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
                _runtime.LeftGateway();
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

        HostFor(ex.OriginKey, ex.Client!).Tell(ex); // resolved: by the facade, or just above
    }

    private IActorRef HostFor(string origin, ClientSettings sender)
    {
        if (_hosts.TryGetValue(origin, out var host))
        {
            return host;
        }

        // The connection budget of an origin is the one of the client that declares it as its base address;
        // an origin no client declares (an absolute URL, a redirect) takes the sending client's.
        var connection = _declaredOrigins.TryGetValue(origin, out var declared) ? declared : sender;
        host = Context.ActorOf(HostActor.Props(_hostContext, origin, connection, new HostLedger()), $"host-{++_hostCounter}");
        _hosts[origin] = host;
        _log.Debug("Host actor {Actor} created for {Origin} (max-connections {MaxConnections}, queue-capacity {QueueCapacity})",  // ecosystem: named template
            host.Path.Name, origin, connection.MaxConnections, connection.QueueCapacity);
        return host;
    }

    private static void Reject(Exchange ex, string problem)
    {
        ex.TryFail(new InvalidRequestException(ex.Info(), problem));
        ex.Release();
    }
}
