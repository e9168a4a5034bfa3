using Akka.Actor;
using Akka.Event;
using NetActors.Configuration;

namespace NetActors.Cluster;

/// <summary>
/// How long a crashed member's singletons take to run again elsewhere, estimated from the cluster's settings, and
/// whether that fits in the time a request may wait (<c>total-timeout</c>). A member that dies is first found
/// unreachable (the failure detector: <c>acceptable-heartbeat-pause</c> plus a couple of heartbeats), then downed
/// once membership has been stable for <c>split-brain-resolver.stable-after</c>, then removed (a gossip round or
/// two), and only after the <c>down-removal-margin</c> does the next oldest member start the singleton, which
/// then loads the session from the store. A request that needs a token in that time waits for all of it.
/// </summary>
internal sealed record HandoverBudget(TimeSpan Detection, TimeSpan StableAfter, TimeSpan RemovalMargin)
{
    /// <summary>Removal and the new singleton's start: a gossip round or two, and the singleton's hand-over retry.</summary>
    private static readonly TimeSpan Overhead = TimeSpan.FromSeconds(2);

    /// <summary>The estimated time from a member's crash to its singletons running elsewhere.</summary>
    public TimeSpan Estimate => Detection + StableAfter + Overhead + RemovalMargin;

    /// <summary>Reads the budget from the actor system's cluster settings.</summary>
    public static HandoverBudget Of(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var config = system.Settings.Config;
        var stableAfter = config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after", TimeSpan.FromSeconds(20));
        var pause = config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause", TimeSpan.FromSeconds(3));
        var detection = pause + cluster.Settings.HeartbeatInterval + cluster.Settings.HeartbeatInterval;
        return new HandoverBudget(detection, stableAfter, cluster.DowningProvider.DownRemovalMargin);
    }

    /// <summary>
    /// Checks at start that a handover fits in the shortest <c>total-timeout</c> of the clients that use an auth
    /// realm: a warning, or an error naming the keys (<c>netactors.cluster.handover-check = error</c>), when it does not.
    /// </summary>
    public void Check(NetActorsSettings settings, ClusterSettings cluster, ILoggingAdapter log)
    {
        if (cluster.HandoverCheck == HandoverCheck.Off)
        {
            return;
        }

        var authenticated = settings.Clients.Values.Where(c => c.AuthRealm is not null).ToList();
        if (authenticated.Count == 0)
        {
            return;
        }

        var shortest = authenticated.MinBy(c => c.TotalTimeout)!;
        if (Estimate < shortest.TotalTimeout)
        {
            return;
        }

        var message =
            $"a crashed member's realm singletons run again elsewhere after about {Estimate.TotalSeconds:0.#} s " +
            $"(failure detection {Detection.TotalSeconds:0.#} s + akka.cluster.split-brain-resolver.stable-after " +
            $"{StableAfter.TotalSeconds:0.#} s + removal {Overhead.TotalSeconds:0.#} s + akka.cluster.down-removal-margin " +
            $"{RemovalMargin.TotalSeconds:0.#} s), which does not fit in netactors.clients.{shortest.Name}.total-timeout " +
            $"({shortest.TotalTimeout.TotalSeconds:0.#} s): requests that need a token during a handover would time out. " +
            "Shorten stable-after or down-removal-margin (WithNetActorsCluster sets 7 s and 3 s), or lengthen total-timeout.";
        if (cluster.HandoverCheck == HandoverCheck.Error)
        {
            throw new NetActorsConfigurationException("akka.cluster.split-brain-resolver.stable-after", message);
        }

        log.Warning("Cluster mode: {0}", message);
    }
}
