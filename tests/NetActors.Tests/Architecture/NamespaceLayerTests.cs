using System.Text;

namespace NetActors.Tests.Architecture;

/// <summary>
/// The library's folders are layers: each namespace uses only namespaces below it, so no cycle of namespaces
/// exists, and the bootstrap (Hosting) is on top, used by nobody inside the library. The few uses that go up are
/// pinned by public types whose namespaces users already write, and are listed here one by one.
/// </summary>
public sealed class NamespaceLayerTests
{
    private const string Hosting = "NetActors.Hosting";

    /// <summary>The layers, bottom first: a namespace may use only those before it.</summary>
    private static readonly string[] Layers =
    [
        "NetActors.Errors",        // the exception hierarchy
        "NetActors.Content",       // request bodies, download targets, progress
        "NetActors",               // NetRequest, NetResponse, INetClient and its extensions
        "NetActors.Configuration", // settings, their reader and validation
        "NetActors.Resilience",    // retry, circuit, rate and concurrency policies, interceptors
        "NetActors.Telemetry",     // metrics, spans, request log, redaction
        "NetActors.Caching",       // the HTTP cache
        "NetActors.Auth",          // the TokenActor, token stores and refreshers, the C# registrations
        "NetActors.Hosts",         // the HostActor: one origin's budget, attempts, retries
        "NetActors.Features",      // the feature flags actor (sends through the gateway)
        "NetActors.Gateway",       // the NetGateway and the services it is given
        "NetActors.Cluster",       // cluster mode: realm singletons, fleet shares, fences
        Hosting,                   // DI and bootstrap: the runtime, the builders, the facade
    ];

    /// <summary>
    /// Uses that go up a layer because public types name each other across namespaces users see (moving either
    /// type would change the public surface): (the using type, the type it uses).
    /// </summary>
    private static readonly (string Type, string Uses)[] Pinned =
    [
        // Paging is handed requests and responses: Paging.Next(NetRequest, NetResponse), under NetRequest's content.
        ("NetActors.Content.Paging", "NetActors.NetRequest"),
        ("NetActors.Content.Paging", "NetActors.NetResponse"),
        // A JSON body serializes with the library's default options (the public NetJson).
        ("NetActors.Content.NetContent", "NetActors.NetJson"),
        // INetClient.SignInAsync takes the public TokenSet of Auth.
        ("NetActors.INetClient", "NetActors.Auth.TokenSet"),
        // A response redacts its URL, in the errors it raises, with the public RedactionSettings of Telemetry.
        ("NetActors.NetResponse", "NetActors.Telemetry.RedactionSettings"),
        ("NetActors.NetClientExtensions", "NetActors.Telemetry.RedactionSettings"),
        // The settings aggregates hold each concern's public settings record, which lives beside its concern.
        ("NetActors.Configuration.ClientSettings", "NetActors.Caching.CacheSettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Resilience.AdaptiveConcurrencySettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Resilience.AdaptiveRateSettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Resilience.CircuitBreakerSettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Resilience.RateLimitSettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Resilience.RetrySettings"),
        ("NetActors.Configuration.ClientSettings", "NetActors.Telemetry.RedactionSettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Auth.RealmSettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Cluster.ClusterSettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Features.FeatureFlagsSettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Resilience.AdaptiveConcurrencySettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Resilience.AdaptiveRateSettings"),
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Telemetry.RedactionSettings"),
        // The public NetActorsSettings.Create(system) validates realms knowing which have a C# refresher.
        ("NetActors.Configuration.NetActorsSettings", "NetActors.Auth.NetActorsSetup"),
    ];

    private static readonly NamespaceGraph Graph = NamespaceGraph.Of(typeof(NetRequest).Assembly, "NetActors");

    [Fact]
    public void Namespaces_of_the_library_form_no_cycle_beyond_the_uses_the_public_surface_pins()
    {
        var graph = Graph.Without(Pinned);
        var knots = graph.Knots();
        var report = new StringBuilder();
        foreach (var knot in knots)
        {
            report.AppendLine($"These namespaces use each other: {string.Join(", ", knot)}");
            var cycle = graph.CycleThrough(knot[0], knot);
            report.AppendLine($"  a cycle: {string.Join(" -> ", cycle)}");
            for (var i = 0; i + 1 < cycle.Count; i++)
            {
                report.AppendLine($"  {cycle[i]} -> {cycle[i + 1]}:");
                foreach (var use in graph.Uses(cycle[i], cycle[i + 1]).Take(6))
                    report.AppendLine($"    {use}");
            }
        }
        Assert.True(knots.Count == 0, report.ToString());
    }

    [Fact]
    public void Each_namespace_uses_only_the_layers_below_it()
    {
        var graph = Graph.Without(Pinned);
        var report = new StringBuilder();
        foreach (var ns in graph.Edges.Keys.Concat(graph.Edges.Values.SelectMany(t => t.Keys)).Distinct())
            if (!Layers.Contains(ns))
                report.AppendLine($"{ns} is in no layer: add it to {nameof(Layers)}");
        foreach (var (from, targets) in graph.Edges)
            foreach (var to in targets.Keys.Where(to => Array.IndexOf(Layers, to) > Array.IndexOf(Layers, from)))
                foreach (var use in graph.Uses(from, to))
                    report.AppendLine($"{from} uses the layer above it, {to}: {use}");
        Assert.True(report.Length == 0, report.ToString());
    }

    [Fact]
    public void Every_pinned_use_still_exists()
    {
        var uses = Graph.AllUses().ToHashSet();
        var gone = Pinned.Where(p => !uses.Contains(p)).Select(p => $"{p.Type} uses {p.Uses}").ToList();
        Assert.True(gone.Count == 0, $"No longer used, remove from {nameof(Pinned)}: {string.Join("; ", gone)}");
    }

    [Fact]
    public void No_type_outside_Hosting_uses_a_Hosting_type()
    {
        var report = new StringBuilder();
        foreach (var from in Graph.Edges.Keys.Where(ns => ns != Hosting))
            foreach (var use in Graph.Uses(from, Hosting))
                report.AppendLine(use);
        Assert.True(report.Length == 0, $"Only Hosting may use Hosting:{Environment.NewLine}{report}");
    }

    [Fact]
    public void The_graph_sees_uses_in_signatures_and_in_method_bodies()
    {
        // Hosting's runtime calls the gateway's Props factory in a method body, and the gateway takes the settings
        // in its constructor's signature: if either were missed the tests above would pass for nothing.
        Assert.Contains(Graph.Targets(Hosting), ns => ns == "NetActors.Gateway");
        Assert.Contains(Graph.Uses("NetActors.Gateway", "NetActors.Configuration"),
            use => use == "NetActors.Gateway.NetGateway uses NetActors.Configuration.NetActorsSettings");
    }
}
