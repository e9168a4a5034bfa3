using System.Text;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using NetActors.Configuration;

namespace NetActors.Cluster;

/// <summary>The options of <see cref="NetActorsClusterHostingExtensions.WithNetActorsCluster(AkkaConfigurationBuilder, NetActorsClusterOptions)"/>.</summary>
public sealed class NetActorsClusterOptions
{
    /// <summary>The host name or IP address Akka.Remote listens on (null: Akka's default, the machine's name).</summary>
    public string? Hostname { get; set; }

    /// <summary>The host name other members use to reach this one, when it differs from <see cref="Hostname"/> (containers, NAT).</summary>
    public string? PublicHostname { get; set; }

    /// <summary>The Akka.Remote port (0: any free port; then this member cannot be a seed node).</summary>
    public int Port { get; set; } = 4053;

    /// <summary>
    /// The seed nodes, e.g. <c>akka.tcp://app@10.0.0.5:4053</c> (the actor system's name, host and port of each).
    /// The first seed node that is up lets the others join; the first in the list may form a new cluster alone.
    /// Empty: join by code (<c>Cluster.Get(system).JoinSeedNodes</c>) or with Akka.Management / Akka.Discovery.
    /// </summary>
    public IList<string> SeedNodes { get; set; } = [];

    /// <summary>The cluster roles of this member.</summary>
    public IList<string> Roles { get; set; } = [];

    /// <summary>
    /// Only members with this role run the realms' singletons and count in the rate-limit shares (it is added to
    /// <see cref="Roles"/>). Give it to every member that sends requests through NetActors. Null: every member.
    /// </summary>
    public string? Role { get; set; }

    /// <summary>How a network partition is resolved: keep-majority by default (the smaller side downs itself).</summary>
    public SplitBrainResolverOption SplitBrainResolver { get; set; } = new KeepMajorityOption();

    /// <summary>
    /// How long membership must be stable before the split-brain resolver decides (downs an unreachable member).
    /// 7 s by default, shorter than Akka's 20 s, so that a crashed member's singletons run again elsewhere well
    /// inside the default 30 s total timeout (about 17 s with <see cref="DownRemovalMargin"/>). Null: leave it to
    /// the HOCON (<c>akka.cluster.split-brain-resolver.stable-after</c>).
    /// </summary>
    public TimeSpan? SplitBrainStableAfter { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>
    /// How long after a downed member is removed its singletons start elsewhere (<c>akka.cluster.down-removal-margin</c>;
    /// Akka's default is the whole stable-after again). 3 s by default: time for the downed side to stop its own
    /// singletons; a stale one that has not is fenced off from the session anyway. Null: leave it to the HOCON.
    /// </summary>
    public TimeSpan? DownRemovalMargin { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Whether an origin's rate limit is the fleet's, divided among the members (on by default).</summary>
    public bool SharedRateLimits { get; set; } = true;

    /// <summary>
    /// Whether to configure Akka.Remote and Akka.Cluster here. Set to false when the application calls
    /// <c>WithRemoting</c> and <c>WithClustering</c> itself: then only NetActors' cluster mode is turned on.
    /// </summary>
    public bool ConfigureAkkaCluster { get; set; } = true;
}

/// <summary>Turns on NetActors' cluster mode in an actor system configured with Akka.Hosting.</summary>
public static class NetActorsClusterHostingExtensions
{
    /// <summary>
    /// Makes this process a member of an Akka.Cluster that shares NetActors' auth sessions and rate limits: each
    /// auth realm's TokenActor runs once in the cluster (a singleton; one refresh per token expiry for the whole
    /// fleet), and each origin's rate limit is the fleet's. Configures Akka.Remote and Akka.Cluster (seed nodes,
    /// roles), the split-brain resolver (keep-majority) and leaving the cluster gracefully when the host stops.
    /// Use together with <c>WithNetActors</c>; every member needs the same clients and realms.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="options">The member's address, seed nodes and roles.</param>
    public static AkkaConfigurationBuilder WithNetActorsCluster(this AkkaConfigurationBuilder builder, NetActorsClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var role = string.IsNullOrWhiteSpace(options.Role) ? string.Empty : options.Role;
        if (options.ConfigureAkkaCluster)
        {
            builder.WithRemoting(new RemoteOptions
            {
                HostName = options.Hostname,
                PublicHostName = options.PublicHostname,
                Port = options.Port,
            });
            var roles = options.Roles.ToList();
            if (role.Length > 0 && !roles.Contains(role))
            {
                roles.Add(role);
            }

            builder.WithClustering(new ClusterOptions
            {
                SeedNodes = options.SeedNodes.ToArray(),
                Roles = roles.ToArray(),
                SplitBrainResolver = options.SplitBrainResolver,
            });
        }

        var hocon = new StringBuilder()
            .AppendLine("netactors.cluster.enabled = on")
            .Append("netactors.cluster.role = ").AppendLine(HoconText.Quote(role))
            .Append("netactors.cluster.shared-rate-limits = ").AppendLine(HoconText.Bool(options.SharedRateLimits))
            // Stated rather than inherited: a downed member shuts down, so it stops sending. (A stopping host
            // leaves the cluster gracefully: Akka.Hosting runs the coordinated shutdown when the host stops.)
            .AppendLine("akka.cluster.run-coordinated-shutdown-when-down = on")
            // When the whole fleet stops at once, the last oldest member offers its singletons to a member that
            // has already left, once per hand-over-retry-interval: Akka's 15 retries held its shutdown for about
            // 13 s. Five are plenty for a live member to answer, and the stop then ends in a few seconds.
            .AppendLine("akka.cluster.singleton.min-number-of-hand-over-retries = 5");
        if (options.SplitBrainStableAfter is { } stable)
        {
            hocon.Append("akka.cluster.split-brain-resolver.stable-after = ").AppendLine(HoconText.Duration(stable));
        }

        if (options.DownRemovalMargin is { } margin)
        {
            hocon.Append("akka.cluster.down-removal-margin = ").AppendLine(HoconText.Duration(margin));
        }

        builder.AddHocon(hocon.ToString(), HoconAddMode.Prepend);
        return builder;
    }

    /// <summary>Turns on cluster mode with the options <paramref name="configure"/> sets.</summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="configure">Sets the member's address, seed nodes and roles.</param>
    public static AkkaConfigurationBuilder WithNetActorsCluster(this AkkaConfigurationBuilder builder,
        Action<NetActorsClusterOptions>? configure = null)
    {
        var options = new NetActorsClusterOptions();
        configure?.Invoke(options);
        return builder.WithNetActorsCluster(options);
    }
}
