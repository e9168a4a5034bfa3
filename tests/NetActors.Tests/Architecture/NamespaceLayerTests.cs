using System.Text;

namespace NetActors.Tests.Architecture;

/// <summary>
/// The library's folders are layers: each namespace uses only namespaces below it, so no cycle of namespaces
/// exists, and the bootstrap (Hosting) is on top, used by nobody inside the library. No use is excepted: the
/// public settings records live in Configuration, and the types the request surface names (Paging, TokenSet,
/// RedactionSettings) beside it in the root namespace.
/// </summary>
public sealed class NamespaceLayerTests
{
    private const string Hosting = "NetActors.Hosting";

    /// <summary>The layers, bottom first: a namespace may use only those before it.</summary>
    private static readonly string[] Layers =
    [
        "NetActors.Errors",        // the exception hierarchy
        "NetActors.Content",       // request bodies, download targets, progress, the default JSON options
        "NetActors",               // NetRequest, NetResponse, INetClient and its extensions, Paging, TokenSet, RedactionSettings
        "NetActors.Configuration", // every public settings record, their reader and validation
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

    private static readonly NamespaceGraph Graph = NamespaceGraph.Of(typeof(NetRequest).Assembly, "NetActors");

    [Fact]
    public void Namespaces_of_the_library_form_no_cycle()
    {
        var graph = Graph;
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
        var graph = Graph;
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
