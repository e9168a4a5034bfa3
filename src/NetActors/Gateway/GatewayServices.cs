using System.Collections.Concurrent;
using NetActors.Auth;
using NetActors.Caching;
using NetActors.Configuration;
using NetActors.Telemetry;

namespace NetActors.Gateway;

/// <summary>
/// What the gateway and the actors under it are given, fixed when the runtime starts: the clock, the metrics, the
/// request log, the caches, the token stores, the C# registrations, where the realms run, and plain functions for
/// what the bootstrap owns (an origin's HTTP invoker, forgetting an origin, the fleet's share, whether the host's
/// services are gone). The actors see nothing else of the bootstrap in Hosting.
/// </summary>
internal sealed class GatewayServices(
    TimeProvider time,
    NetMetrics metrics,
    SessionStates sessions,
    RequestLog requestLog,
    CacheRegistry caches,
    ConcurrentDictionary<string, ITokenStore> stores,
    StoreWrites storeWrites,
    Func<ClientSettings, System.Text.Json.JsonSerializerOptions> jsonFor,
    Func<string, ClientSettings, HttpMessageInvoker> createInvoker,
    Action<string> forgetOrigin,
    Func<int> fleetMembers,
    Func<bool> isDisposed,
    NetActorsSetup? setup,
    IRealmPlacement realmPlacement,
    GatewayTraffic traffic)
{
    /// <summary>The clock token expiry is judged by.</summary>
    public TimeProvider Time { get; } = time;

    public NetMetrics Metrics { get; } = metrics;

    public SessionStates Sessions { get; } = sessions;

    public RequestLog RequestLog { get; } = requestLog;

    /// <summary>The HTTP caches of the clients.</summary>
    public CacheRegistry Caches { get; } = caches;

    /// <summary>The default token stores, one per realm, kept by the bootstrap so they outlive actor restarts.</summary>
    public ConcurrentDictionary<string, ITokenStore> Stores { get; } = stores;

    /// <summary>Token store writes in progress, awaited at shutdown.</summary>
    public StoreWrites StoreWrites { get; } = storeWrites;

    /// <summary>The client's JSON options.</summary>
    public Func<ClientSettings, System.Text.Json.JsonSerializerOptions> JsonFor { get; } = jsonFor;

    /// <summary>The factory's HTTP invoker for an origin, configured with its connection settings.</summary>
    public Func<string, ClientSettings, HttpMessageInvoker> CreateInvoker { get; } = createInvoker;

    /// <summary>Forgets what the bootstrap kept for an origin whose host actor was removed (idle).</summary>
    public Action<string> ForgetOrigin { get; } = forgetOrigin;

    /// <summary>How many processes share each origin's rate limit (1 unless cluster mode shares them).</summary>
    public Func<int> FleetMembers { get; } = fleetMembers;

    /// <summary>True once the service provider that made the runtime was disposed: host actors are not restarted.</summary>
    public bool IsDisposed => isDisposed();

    /// <summary>The C# registrations of the actor system.</summary>
    public NetActorsSetup? Setup { get; } = setup;

    /// <summary>Where the realms' TokenActors run: here, or as cluster singletons in cluster mode.</summary>
    public IRealmPlacement RealmPlacement { get; } = realmPlacement;

    /// <summary>What the gateway and the facade share: the published router and the requests still in the gateway.</summary>
    public GatewayTraffic Traffic { get; } = traffic;
}

/// <summary>
/// What the gateway shares with the facade that sends to it: the router it publishes (so the facade may send to a
/// declared origin's host actor directly) and how many facade requests are still waiting in the gateway.
/// </summary>
internal sealed class GatewayTraffic
{
    private volatile RequestRouter? _router;

    /// <summary>The gateway's router, or null until the gateway has created the declared origins' host actors.</summary>
    public RequestRouter? Router => _router;

    /// <summary>Called by the gateway once the declared origins' host actors exist (again, after a restart).</summary>
    public void PublishRouter(RequestRouter router) => _router = router;

    private int _inGateway;

    /// <summary>
    /// True when no facade request sent through the gateway is still waiting there. Only then may the facade send
    /// to a host actor directly: a later request must not overtake an earlier one of the same sender.
    /// </summary>
    public bool GatewayIdle => Volatile.Read(ref _inGateway) == 0;

    /// <summary>The facade sends a request through the gateway.</summary>
    public void EnteringGateway() => Interlocked.Increment(ref _inGateway);

    /// <summary>The gateway has passed such a request on (to its host actor), or answered it.</summary>
    public void LeftGateway() => Interlocked.Decrement(ref _inGateway);
}
