using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Telemetry;

namespace NetActors.Cluster;

/// <summary>
/// Cluster mode: each auth realm's <see cref="TokenActor"/> runs as a cluster singleton (on the oldest member,
/// or the oldest with the configured role) and every member reaches it through a <see cref="ClusterRealmClient"/>;
/// with shared rate limits, <see cref="FleetMembership"/> divides every origin's rate among the members.
/// Started by the runtime when <c>netactors.cluster.enabled</c> is on.
/// </summary>
internal sealed class ClusterMode : IRealmPlacement
{
    /// <summary>The name of the TokenActor under its singleton manager.</summary>
    public const string SingletonName = "token";

    private readonly ClusterSettings _settings;
    private readonly Counter<long> _remoteRequests;

    private ClusterMode(ClusterSettings settings, Counter<long> remoteRequests)
    {
        _settings = settings;
        _remoteRequests = remoteRequests;
    }

    /// <summary>Starts the fleet's membership count and returns where the realms run.</summary>
    public static ClusterMode Start(ActorSystem system, ClusterSettings settings, FleetShare fleet, NetMetrics metrics)
    {
        HandoverBudget.Of(system).Check(NetActorsSettings.Create(system), settings, Logging.GetLogger(system, typeof(ClusterMode)));
        if (settings.SharedRateLimits)
        {
            system.ActorOf(FleetMembership.Props(settings.Role, fleet), "netactors-fleet");
        }

        var remoteRequests = metrics.Meter.CreateCounter<long>("netactors.cluster.token_requests", "{request}",
            "Token requests a member sent to its realm's singleton (cluster mode): its local token was missing, " +
            "expired or rejected, or the singleton moved.");
        return new ClusterMode(settings, remoteRequests);
    }

    /// <summary>
    /// What the realm's singleton is given: this member's store and refresher behind the session's fence (only the
    /// singleton holding the newest fence refreshes or writes), this member's HTTP path; its events go to the
    /// members' realm clients (each publishes them on its own member), and the health state is each member's own.
    /// </summary>
    internal static RealmServices SingletonServices(RealmServices services, ILoggingAdapter log, Func<bool>? stopping = null)
    {
        var fenced = new FencedTokenStore(services.Store, log);
        var refresher = services.Refresher is { } inner ? new FencedRefresher(inner, fenced, stopping) : null;
        return new RealmServices(refresher, fenced, services.Send, [], [], services.Time, services.Metrics,
            sessions: null, caches: null, writes: services.Writes, eventsToSubscribers: true);
    }

    /// <summary>
    /// Starts, under the gateway, the realm's singleton manager (which runs the TokenActor on the oldest member
    /// and hands it over when that member leaves) and the member's realm client, which the gateway and the host
    /// actors talk to.
    /// </summary>
    public IActorRef Start(IUntypedActorContext context, RealmSettings realm, RealmServices services)
    {
        var name = LocalRealmPlacement.ActorName(realm);
        var managerName = name + "-singleton";

        var log = Logging.GetLogger(context.System, typeof(ClusterMode));
        var shutdown = CoordinatedShutdown.Get(context.System);
        var singletonServices = SingletonServices(services, log, () => shutdown.ShutdownReason is not null);
        var managerSettings = ClusterSingletonManagerSettings.Create(context.System).WithSingletonName(SingletonName);
        if (_settings.Role.Length > 0)
        {
            managerSettings = managerSettings.WithRole(_settings.Role);
        }

        if (_settings.Role.Length == 0 || Akka.Cluster.Cluster.Get(context.System).SelfRoles.Contains(_settings.Role))
        {
            // A member without the role sends through the realm's singleton but never runs it.
            context.ActorOf(ClusterSingletonManager.Props(TokenActor.Props(realm, singletonServices), HandOver.Instance,
                managerSettings), managerName);
        }

        if (!services.Store.SupportsFencing)
        {
            log.Warning("Cluster mode: the token store of auth realm {0} ({1}) cannot compare-and-set (ITokenStore.TryWriteAsync), " +
                "so a stale singleton could overwrite or end a newer session. Implement the fenced members of ITokenStore.",
                realm.Name, services.Store.GetType().Name);
        }

        if (services.Store is MemoryTokenStore && services.Refresher is not { NeedsSession: false })
        {
            log.Warning(
                "Cluster mode: auth realm {0} keeps its tokens in memory, so its session is lost when the realm's " +
                "singleton moves to another member. Use the file store (members on one machine) or a shared ITokenStore.",
                realm.Name);
        }

        var managerPath = (context.Self.Path / managerName).ToStringWithoutAddress();
        return context.ActorOf(ClusterRealmClient.Props(realm, services, _settings, managerPath, _remoteRequests), name);
    }
}
