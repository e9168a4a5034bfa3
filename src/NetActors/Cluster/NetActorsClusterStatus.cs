using Akka.Actor;
using Akka.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace NetActors.Cluster;

/// <summary>
/// Where a cluster's NetActors state lives, seen from one member: whether the member has joined, which member runs
/// the realms' singletons (the oldest taking part), and among how many members each origin's rate is divided.
/// Get it with <see cref="Get(ActorSystem)"/> (for example from the <see cref="ActorSystem"/> in the service
/// provider). Every answer is a snapshot of this member's view of the membership.
/// </summary>
public sealed class NetActorsClusterStatus : IExtension
{
    private readonly ExtendedActorSystem _system;
    private readonly Lazy<string> _role;
    private int _shares = 1;

    internal NetActorsClusterStatus(ExtendedActorSystem system)
    {
        _system = system;
        _role = new Lazy<string>(() => NetActors.Configuration.NetActorsSettings.Create(system).Cluster.Role);
    }

    /// <summary>The status of <paramref name="system"/>, a cluster member running NetActors in cluster mode.</summary>
    /// <param name="system">The member's actor system.</param>
    public static NetActorsClusterStatus Get(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.WithExtension<NetActorsClusterStatus, NetActorsClusterStatusProvider>();
    }

    /// <summary>Whether this member has joined a cluster (it is Up, or leaving one it was Up in).</summary>
    public bool Joined => Akka.Cluster.Cluster.Get(_system).SelfMember.Status is MemberStatus.Up or MemberStatus.Leaving;

    /// <summary>This member's address.</summary>
    public Address Self => Akka.Cluster.Cluster.Get(_system).SelfAddress;

    /// <summary>
    /// How many members each origin's rate limit is divided among (1 until this member counts others; with
    /// shared rate limits off, always 1).
    /// </summary>
    public int ShareCount => Volatile.Read(ref _shares);

    /// <summary>
    /// The member that runs the realms' singletons (every realm's TokenActor runs on the oldest member taking
    /// part), or null while none is known (this member has not joined). A member that crashed stays the answer
    /// until it is downed and removed; the next one then starts the singletons after the removal margin.
    /// </summary>
    public Address? SingletonMember
    {
        get
        {
            var cluster = Akka.Cluster.Cluster.Get(_system);
            var role = _role.Value;
            return cluster.State.Members
                .Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving && (role.Length == 0 || m.HasRole(role)))
                .OrderBy(m => m, Member.AgeOrdering)
                .FirstOrDefault()?.Address;
        }
    }

    /// <summary>Whether the realms' singletons run on this member.</summary>
    public bool RunsSingletons => Self.Equals(SingletonMember);

    internal void SetShares(int members) => Volatile.Write(ref _shares, Math.Max(1, members));
}

/// <summary>Creates <see cref="NetActorsClusterStatus"/> once per actor system.</summary>
public sealed class NetActorsClusterStatusProvider : ExtensionIdProvider<NetActorsClusterStatus>
{
    /// <inheritdoc />
    public override NetActorsClusterStatus CreateExtension(ExtendedActorSystem system) => new(system);
}

/// <summary>
/// Cluster mode's health: <see cref="HealthStatus.Unhealthy"/> while this member has not joined a cluster (its
/// authenticated requests cannot reach the realms' singletons), otherwise <see cref="HealthStatus.Healthy"/>, with
/// the singletons' member and the share count as data. Register it with
/// <c>services.AddHealthChecks().AddNetActorsCluster()</c>.
/// </summary>
public sealed class NetActorsClusterHealthCheck(ActorSystem system) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = NetActorsClusterStatus.Get(system);
        var data = new Dictionary<string, object>
        {
            ["self"] = status.Self.ToString(),
            ["singletons"] = status.SingletonMember?.ToString() ?? "none",
            ["shares"] = status.ShareCount,
        };
        return Task.FromResult(status.Joined
            ? HealthCheckResult.Healthy("Joined; the realms' singletons run on " + data["singletons"], data)
            : HealthCheckResult.Unhealthy("This member has not joined a cluster (no seed node reachable?): its " +
                "authenticated requests and session calls fail with ClusterUnavailableException", data: data));
    }
}

/// <summary>Registers <see cref="NetActorsClusterHealthCheck"/>.</summary>
public static class NetActorsClusterHealthCheckExtensions
{
    /// <summary>Adds cluster mode's health check (unhealthy while this member has not joined a cluster).</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags for filtering (for example "ready").</param>
    public static IHealthChecksBuilder AddNetActorsCluster(this IHealthChecksBuilder builder, string name = "netactors-cluster",
        IEnumerable<string>? tags = null) =>
        builder.AddCheck<NetActorsClusterHealthCheck>(name, tags: tags);
}
