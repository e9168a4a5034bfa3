using Akka.Actor;
using NetActors.Hosting;
using NetActors.Telemetry;

namespace NetActors.Hosts;

/// <summary>What every host actor shares: the gateway, the runtime's services and the request log.</summary>
internal sealed class HostContext(IActorRef gateway, NetActorsRuntime runtime, RequestLog log)
{
    public IActorRef Gateway { get; } = gateway;

    public NetActorsRuntime Runtime { get; } = runtime;

    public RequestLog Log { get; } = log;
}
