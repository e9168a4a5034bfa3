using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Telemetry;
using NetActors.Gateway;

namespace NetActors.Hosting;

/// <summary>
/// The runtime's services, one per service provider: the HTTP client factory, the loggers, and the connection
/// settings of each origin (read by <see cref="NetActorsHttpClientOptions"/> when the factory builds the
/// origin's handler).
/// </summary>
internal sealed class NetActorsRuntime(IHttpMessageHandlerFactory handlerFactory, ILoggerFactory loggerFactory,
    OriginConnections connections, NetMetrics metrics, SessionStates sessions, Features.FeatureFlags? flags = null,
    IOptionsMonitorCache<HttpClientFactoryOptions>? factoryOptions = null) : IDisposable
{
    private volatile bool _disposed;

    /// <summary>
    /// True once the service provider that made the runtime was disposed (the host ended, with or without
    /// <c>StopAsync</c>): its services are gone, so requests are refused and host actors are not restarted.
    /// </summary>
    public bool IsDisposed => _disposed;

    /// <summary>Marks the runtime disposed; called by the service provider.</summary>
    public void Dispose() => _disposed = true;

    /// <summary>
    /// Forgets what the runtime kept for an origin whose host actor was removed (idle): its connection settings,
    /// its gauge series and the HTTP client factory's options for its handler. A later request makes them anew.
    /// </summary>
    public void ForgetOrigin(string origin)
    {
        connections.Remove(origin);
        Metrics.ForgetOrigin(origin);
        factoryOptions?.TryRemove(NetActorsHttpClientOptions.NamePrefix + origin);
    }

    /// <summary>The backend's feature flags (fetched only when <c>feature-flags.enabled</c>).</summary>
    public Features.FeatureFlags Flags { get; } = flags ?? new Features.FeatureFlags();

    public SessionStates Sessions { get; } = sessions;

    public NetMetrics Metrics { get; } = metrics;


    public RequestLog RequestLog { get; } = new(loggerFactory.CreateLogger(RequestLog.Category));

    /// <summary>The clock token expiry is judged by.</summary>
    public TimeProvider Time { get; } = TimeProvider.System;

    /// <summary>The default token stores, one per realm, kept here so they outlive actor restarts.</summary>
    public ConcurrentDictionary<string, Auth.ITokenStore> Stores { get; } = new(StringComparer.Ordinal);

    /// <summary>Token store writes in progress, awaited at shutdown.</summary>
    public Auth.StoreWrites StoreWrites { get; } = new();

    /// <summary>The HTTP caches of the clients.</summary>
    public Caching.CacheRegistry Caches { get; } = new();

    private readonly ConcurrentDictionary<string, System.Text.Json.JsonSerializerOptions> _json = new(StringComparer.Ordinal);

    /// <summary>The client's JSON options: those set in C#, or the ones its <c>json.*</c> settings describe.</summary>
    public System.Text.Json.JsonSerializerOptions JsonFor(ClientSettings client) =>
        _json.GetOrAdd(client.Name, static (_, state) => state.runtime.Setup?.Clients.GetValueOrDefault(state.client.Name)?.Json
            ?? state.client.Json.CreateOptions(), (runtime: this, client));


    /// <summary>The C# registrations of the actor system.</summary>
    public NetActorsSetup? Setup { get; private set; }

    /// <summary>Where the realms' TokenActors run: here, or as cluster singletons in cluster mode.</summary>
    public Auth.IRealmPlacement RealmPlacement { get; private set; } = Auth.LocalRealmPlacement.Instance;

    /// <summary>How many processes share each origin's rate limit (1 unless cluster mode shares them).</summary>
    public Cluster.FleetShare Fleet { get; } = new();

    private readonly GatewayTraffic _traffic = new();

    /// <summary>The gateway's router, or null until the gateway has created the declared origins' host actors.</summary>
    public Gateway.RequestRouter? Router => _traffic.Router;

    /// <summary>
    /// True when no facade request sent through the gateway is still waiting there. Only then may the facade send
    /// to a host actor directly: a later request must not overtake an earlier one of the same sender.
    /// </summary>
    public bool GatewayIdle => _traffic.GatewayIdle;

    /// <summary>The facade sends a request through the gateway.</summary>
    public void EnteringGateway() => _traffic.EnteringGateway();

    /// <summary>Reads the settings, starts the gateway and registers it. Called once by the actor system.</summary>
    public IActorRef Start(ActorSystem system, IActorRegistry registry)
    {
        var settings = NetActorsSettings.Create(system);
        Setup = system.Settings.Setup.Get<NetActorsSetup>().GetOrElse(new NetActorsSetup(
            new Dictionary<string, RealmRegistration>(), new Dictionary<string, Resilience.ClientHooks>()));
        // A system actor: it outlives the user actors while the system stops, so what reaches dead letters then is answered.
        var orphans = ((ExtendedActorSystem)system).SystemActorOf(OrphanWatcher.Props(this, settings), "netactors-orphans");
        system.EventStream.Subscribe(orphans, typeof(Akka.Event.AllDeadLetters));
        if (settings.Cluster.Enabled)
        {
            RealmPlacement = Cluster.ClusterMode.Start(system, settings.Cluster, Fleet, Metrics);
        }

        var services = new GatewayServices(Time, Metrics, Sessions, RequestLog, Caches, Stores, StoreWrites, JsonFor,
            CreateInvoker, ForgetOrigin, () => Fleet.Members, () => IsDisposed, Setup, RealmPlacement, _traffic);
        var gateway = system.ActorOf(NetGateway.Props(services, settings), OrphanWatcher.GatewayName);
        registry.Register<NetGateway>(gateway);
        if (settings.FeatureFlags.Enabled)
        {
            Flags.Json = JsonFor(settings.Clients[settings.FeatureFlags.Client]);
            var flagsActor = system.ActorOf(Features.FeatureFlagsActor.Props(Flags, settings.FeatureFlags, gateway, Time), "netactors-flags");
            Flags.Fetch = async ct =>
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                flagsActor.Tell(new Features.FetchFlags(done));
                await done.Task.WaitAsync(ct).ConfigureAwait(false);
            };
        }

        // Graceful shutdown: in-flight requests get drain-timeout to finish before the actors stop.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "netactors-drain", async () =>
        {
            try
            {
                await gateway.Ask<Hosts.Drained>(Hosts.Drain.Instance, settings.DrainTimeout + TimeSpan.FromSeconds(1));
            }
            catch (Exception)
            {
                // Whatever is still on the wire is failed with NetShutdownException when its host stops.
            }

            await StoreWrites.WhenFinishedAsync(settings.DrainTimeout).ConfigureAwait(false);

            return Akka.Done.Instance;
        });
        return gateway;
    }

    /// <summary>
    /// The factory's handler for <paramref name="origin"/>, configured for it, behind a plain invoker: the host
    /// actor sends absolute requests with its own deadlines, so an <see cref="HttpClient"/> would only add a
    /// linked cancellation source and an async layer to every request.
    /// </summary>
    public HttpMessageInvoker CreateInvoker(string origin, ClientSettings connection)
    {
        connections.Set(origin, connection);
        return new HttpMessageInvoker(handlerFactory.CreateHandler(NetActorsHttpClientOptions.NamePrefix + origin),
            disposeHandler: false);
    }
}

/// <summary>
/// The connection settings of each origin, registered by its host actor before the HTTP client factory builds
/// the origin's handler. (Separate from the runtime so the factory's options do not depend on the runtime.)
/// </summary>
internal sealed class OriginConnections
{
    private readonly ConcurrentDictionary<string, ClientSettings> _connections = new(StringComparer.Ordinal);

    public void Set(string origin, ClientSettings connection) => _connections[origin] = connection;

    public void Remove(string origin) => _connections.TryRemove(origin, out _);

    public ClientSettings? For(string origin) => _connections.GetValueOrDefault(origin);
}
