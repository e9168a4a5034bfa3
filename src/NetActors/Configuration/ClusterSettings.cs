using Akka.Actor;
using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>
/// The settings of cluster mode (<c>netactors.cluster</c>): whether the runtime shares its auth realms and rate
/// limits with the other members of an Akka.Cluster, which members take part, and how long a node waits for a
/// realm's singleton before it asks again.
/// </summary>
public sealed record ClusterSettings
{
    /// <summary>Whether cluster mode is on (set by <c>WithNetActorsCluster</c>, or in HOCON).</summary>
    public bool Enabled { get; init; }

    /// <summary>The cluster role of the members that run NetActors; empty: every member.</summary>
    public string Role { get; init; } = string.Empty;

    /// <summary>How long a node waits for the realm's singleton to answer a token request before it asks again.</summary>
    public TimeSpan TokenRequestTimeout { get; init; } = Configuration.ReferenceDefaults.Duration("cluster.token-request-timeout");

    /// <summary>How long a sign-in or a session termination may wait for the realm's singleton in all.</summary>
    public TimeSpan SessionCallTimeout { get; init; } = Configuration.ReferenceDefaults.Duration("cluster.session-call-timeout");

    /// <summary>
    /// How long before its caller's failure a sign-in or termination stops being applied by the singleton: the
    /// time an answer sent just before the call's deadline has to reach the member. The smaller of
    /// <see cref="TokenRequestTimeout"/> and a quarter of <see cref="SessionCallTimeout"/>.
    /// </summary>
    internal TimeSpan SessionCallGrace =>
        TimeSpan.FromTicks(Math.Min(TokenRequestTimeout.Ticks, SessionCallTimeout.Ticks / 4));

    /// <summary>Whether an origin's rate limit is the fleet's (divided among the members) rather than each process's.</summary>
    public bool SharedRateLimits { get; init; } = Configuration.ReferenceDefaults.Bool("cluster.shared-rate-limits");

    /// <summary>
    /// How long a member that has not joined a cluster (no seed node reachable) holds an authenticated request or
    /// a session call before failing it with <see cref="Errors.ClusterUnavailableException"/>; counted from the
    /// member's start, so once it has passed such calls fail at once until the member joins.
    /// </summary>
    public TimeSpan NotJoinedTimeout { get; init; } = Configuration.ReferenceDefaults.Duration("cluster.not-joined-timeout");

    /// <summary>What happens at start when a crashed member's handover cannot fit in a request's total timeout.</summary>
    public HandoverCheck HandoverCheck { get; init; } =
        Enum.Parse<HandoverCheck>(Configuration.ReferenceDefaults.String("cluster.handover-check"), ignoreCase: true);

    internal static ClusterSettings Create(Config netactors)
    {
        var r = new HoconReader(netactors.GetConfig("cluster") ?? Config.Empty, "netactors.cluster.");
        var settings = new ClusterSettings
        {
            Enabled = r.Bool("enabled"),
            Role = r.String("role"),
            TokenRequestTimeout = r.Duration("token-request-timeout"),
            SessionCallTimeout = r.Duration("session-call-timeout"),
            SharedRateLimits = r.Bool("shared-rate-limits"),
            NotJoinedTimeout = r.Duration("not-joined-timeout"),
            HandoverCheck = r.String("handover-check") switch
            {
                "warn" => HandoverCheck.Warn,
                "error" => HandoverCheck.Error,
                "off" => HandoverCheck.Off,
                var other => throw r.Invalid("handover-check", $"'{other}' is not one of warn, error, off."),
            },
        };
        if (settings.SessionCallTimeout < settings.TokenRequestTimeout)
        {
            throw r.Invalid("session-call-timeout",
                $"{settings.SessionCallTimeout} is shorter than token-request-timeout ({settings.TokenRequestTimeout}).");
        }

        return settings;
    }

    /// <summary>Cluster mode needs a cluster member: fails startup, naming the key, when the system is not one.</summary>
    internal void CheckProvider(ActorSystem system)
    {
        if (Enabled && ((ExtendedActorSystem)system).Provider is not Akka.Cluster.ClusterActorRefProvider)
        {
            throw new NetActorsConfigurationException("netactors.cluster.enabled",
                "is on but the actor system is not a cluster member (its provider is " +
                $"{((ExtendedActorSystem)system).Provider.GetType().Name}); use WithNetActorsCluster, or Akka.Cluster.Hosting's WithClustering.");
        }
    }
}

/// <summary>What happens at start when a crashed member's handover cannot fit in a request's total timeout.</summary>
public enum HandoverCheck
{
    /// <summary>A warning in the log (the default).</summary>
    Warn,

    /// <summary>Startup fails with a message naming the keys.</summary>
    Error,

    /// <summary>Not checked.</summary>
    Off,
}
