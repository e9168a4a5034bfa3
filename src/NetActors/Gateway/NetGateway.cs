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

        if (ex.Client is null)
        {
            if (ex.Request is null || !_settings.Clients.TryGetValue(ex.Request.Client ?? string.Empty, out var client))
            {
                Reject(ex, UnknownClient(ex.Request?.Client));
                return;
            }

            ex.Client = client;
            ex.Redaction = _settings.Redaction;
            ex.Hooks = _runtime.Setup?.Clients.GetValueOrDefault(client.Name) ?? Resilience.ClientHooks.None;
            if (ex.Request.Method is null || ex.Request.Url is null)
            {
                Reject(ex, "the request has no method or no URL.");
                return;
            }

            if (RequestTargets.TryAbsolute(ex.Request.Url, out var absolute, out var problem))
            {
                ex.Target = absolute;
                ex.OriginKey = Origins.KeyOf(absolute!);
            }
            else if (problem is not null)
            {
                Reject(ex, problem);
                return;
            }
            else if (client.BaseOrigin is { } baseOrigin)
            {
                // Relative: the host actor resolves it against the base address, off the gateway.
                ex.OriginKey = baseOrigin;
            }
            else
            {
                Reject(ex, $"the URL '{_settings.Redaction.Url(ex.Request.Url)}' is relative but client " +
                           $"'{client.Name}' has no base-address.");
                return;
            }
        }

        HostFor(ex.OriginKey, ex.Client).Tell(ex);
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
        _log.Debug("Host actor {0} created for {1} (max-connections {2}, queue-capacity {3})",
            host.Path.Name, origin, connection.MaxConnections, connection.QueueCapacity);
        return host;
    }

    private string UnknownClient(string? name) =>
        $"no client named '{name}' is configured (configured: {string.Join(", ", _settings.Clients.Keys.Order())}).";

    private static void Reject(Exchange ex, string problem)
    {
        ex.TryFail(new InvalidRequestException(ex.Info(), problem));
        ex.Release();
    }
}
