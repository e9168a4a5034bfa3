using Akka.Actor;
using NetActors.Configuration;
using NetActors.Telemetry;

namespace NetActors.Hosts;

/// <summary>
/// What every host actor is given: the gateway, the realms, and the runtime's services as plain immutable values
/// (a clock, the metrics, the request log, the caches, a way to make an origin's HTTP invoker). Host actors see
/// nothing else of the runtime, so a test can run one with a fake clock and a scripted transport.
/// </summary>
internal sealed class HostContext(
    IActorRef gateway,
    IReadOnlyDictionary<string, RealmRoute> realms,
    TimeProvider time,
    NetMetrics metrics,
    RequestLog log,
    Caching.CacheRegistry caches,
    Func<ClientSettings, System.Text.Json.JsonSerializerOptions> json,
    Func<string, ClientSettings, HttpMessageInvoker> createInvoker,
    Func<int> fleetMembers,
    Func<double>? random = null)
{
    public IActorRef Gateway { get; } = gateway;

    public IReadOnlyDictionary<string, RealmRoute> Realms { get; } = realms;

    /// <summary>The clock of deadlines, pauses, the circuit and token expiry (the system clock outside tests).</summary>
    public TimeProvider Time { get; } = time;

    public NetMetrics Metrics { get; } = metrics;

    public RequestLog Log { get; } = log;

    /// <summary>The clients' HTTP caches.</summary>
    public Caching.CacheRegistry Caches { get; } = caches;

    /// <summary>The JSON options of a client.</summary>
    public Func<ClientSettings, System.Text.Json.JsonSerializerOptions> Json { get; } = json;

    /// <summary>Makes the HTTP invoker of an origin, with that origin's connection settings.</summary>
    public Func<string, ClientSettings, HttpMessageInvoker> CreateInvoker { get; } = createInvoker;

    /// <summary>How many processes share each origin's rate limit (1 outside cluster mode).</summary>
    public Func<int> FleetMembers { get; } = fleetMembers;

    /// <summary>A number in [0, 1) for retry jitter; seeded in tests so that a sequence replays.</summary>
    public Func<double> Random { get; } = random ?? System.Random.Shared.NextDouble;
}

/// <summary>A realm as host actors see it: its settings, its TokenActor and, when sender-constrained, its DPoP proofs.</summary>
internal sealed record RealmRoute(RealmSettings Settings, IActorRef TokenActor, Auth.DPoPProofs? DPoP);
