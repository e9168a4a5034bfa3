using Akka.Actor;
using NetActors.Hosting;
using NetActors.Telemetry;

namespace NetActors.Hosts;

/// <summary>What every host actor shares: the gateway, the runtime's services and the request log.</summary>
internal sealed class HostContext(IActorRef gateway, NetActorsRuntime runtime, RequestLog log,
    IReadOnlyDictionary<string, RealmRoute> realms)
{
    public IReadOnlyDictionary<string, RealmRoute> Realms { get; } = realms;

    public TimeProvider Time => Runtime.Time;

    public IActorRef Gateway { get; } = gateway;

    public NetActorsRuntime Runtime { get; } = runtime;

    public RequestLog Log { get; } = log;
}

/// <summary>A realm as host actors see it: its settings and its TokenActor.</summary>
internal sealed record RealmRoute(Auth.RealmSettings Settings, IActorRef TokenActor);
