using System.Globalization;

namespace NetActors.Host.Load;

/// <summary>One invariant and whether it held, with what was measured.</summary>
internal sealed record InvariantCheck(string Name, bool Held, string Detail);

/// <summary>One origin: its cap, what its server saw (when it is ours), and the runtime's own highest in-flight count.</summary>
/// <param name="Name">Shown as.</param>
/// <param name="Origin">scheme://host:port.</param>
/// <param name="Cap">The origin's max-connections, when a client declares it.</param>
/// <param name="UpstreamRequests">Requests the server received (demo only).</param>
/// <param name="UpstreamMax">The most requests the server had in progress at once (demo only).</param>
/// <param name="ClientMax">The highest <c>netactors.origin.active_requests</c> sampled.</param>
internal sealed record OriginReport(string Name, string Origin, int? Cap, long? UpstreamRequests, int? UpstreamMax, int ClientMax);

/// <summary>The request ledger's books at the end of a run.</summary>
internal sealed record LedgerSummary(long Started, long Finished, long Succeeded, long Late, TimeSpan Slowest,
    IReadOnlyDictionary<string, int> Failures)
{
    /// <summary>Reads the ledger.</summary>
    public static LedgerSummary Of(RequestLedger ledger) =>
        new(ledger.Started, ledger.Finished, ledger.Succeeded, ledger.Late, ledger.Slowest, ledger.Failures);

    /// <summary>Requests without an outcome.</summary>
    public long WithoutOutcome => Started - Finished;
}

/// <summary>The parts of a run's summary that the demo and a configured workload share.</summary>
internal static class RunReport
{
    /// <summary>Every request sent got exactly one outcome, within its total timeout.</summary>
    public static InvariantCheck EveryRequestAnOutcome(LedgerSummary ledger, LoadResult load, TimeSpan totalTimeout) => new(
        "every request an outcome, in time",
        ledger.WithoutOutcome == 0 && load.Unfinished == 0 && ledger.Late == 0,
        $"{ledger.Started} sent, {ledger.Finished} answered ({ledger.Succeeded} responses, {ledger.Finished - ledger.Succeeded} typed errors), " +
        $"{ledger.WithoutOutcome} without outcome, {ledger.Late} later than their total timeout; slowest {Ms(ledger.Slowest)} " +
        $"(total timeout {Ms(totalTimeout)})");

    /// <summary>The cap on requests on the wire, as the runtime's own gauge saw it (sampled, so it can only under-count).</summary>
    public static InvariantCheck ClientCap(IReadOnlyList<OriginReport> origins) => new(
        "in flight per origin within the cap (runtime's gauge)",
        origins.All(o => o.Cap is not { } cap || o.ClientMax <= cap),
        string.Join(", ", origins.Select(o => $"{o.Name} {o.ClientMax}/{o.Cap?.ToString(CultureInfo.InvariantCulture) ?? "-"}")));

    /// <summary>Writes the per-step and per-origin tables and what the meter reported.</summary>
    public static void WriteTables(TextWriter output, LoadResult load, IReadOnlyList<OriginReport> origins, MetricsSnapshot metrics)
    {
        output.WriteLine();
        WriteSteps(output, load);
        output.WriteLine();
        WriteOrigins(output, origins);
        output.WriteLine();
        output.WriteLine("  runtime (NetActors meter):");
        WriteMetrics(output, metrics);
    }

    /// <summary>Writes the per-step table.</summary>
    public static void WriteSteps(TextWriter output, LoadResult load)
    {
        var table = new TextTable("operation", "count", "ok", "failed", "p50 ms", "p99 ms", "failures");
        foreach (var step in load.Steps)
        {
            var failed = step.Failures.Values.Sum();
            table.Add(step.Name, step.Total, step.Succeeded, failed, step.Latency.Percentile(50), step.Latency.Percentile(99), Kinds(step.Failures));
        }

        var all = load.Steps.SelectMany(s => s.Failures).GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.Sum(f => f.Value));
        table.Add("all", load.Operations, load.Steps.Sum(s => s.Succeeded), all.Values.Sum(), null, null, Kinds(all));
        table.WriteTo(output);
    }

    /// <summary>Writes the per-origin table.</summary>
    public static void WriteOrigins(TextWriter output, IReadOnlyList<OriginReport> origins)
    {
        var upstream = origins.Any(o => o.UpstreamMax is not null);
        var table = upstream
            ? new TextTable("origin", "address", "cap", "upstream requests", "upstream max at once", "runtime max in flight")
            : new TextTable("origin", "address", "cap", "runtime max in flight");
        foreach (var o in origins)
        {
            if (upstream)
            {
                table.Add(o.Name, o.Origin, o.Cap, o.UpstreamRequests, o.UpstreamMax, o.ClientMax);
            }
            else
            {
                table.Add(o.Name, o.Origin, o.Cap, o.ClientMax);
            }
        }

        table.WriteTo(output);
    }

    /// <summary>Writes what the NetActors meter reported.</summary>
    public static void WriteMetrics(TextWriter output, MetricsSnapshot m)
    {
        output.WriteLine($"  requests {m.Requests} (every outcome on netactors.client.request.duration, refresh calls included), " +
                         $"attempts {m.Attempts}, retries {m.Retries}, 401s {m.Unauthorized}, deduplicated {m.Deduplicated}");
        output.WriteLine($"  token refreshes {Kinds(m.Refreshes.ToDictionary(r => r.Key, r => (int)r.Value), "none")}; " +
                         $"failed requests {Kinds(m.Failures.ToDictionary(r => r.Key, r => (int)r.Value), "none")}");
        if (m.Other.Count > 0)
        {
            output.WriteLine("  " + string.Join(", ", m.Other.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}")));
        }
    }

    /// <summary>Writes the checks, one line each.</summary>
    public static void WriteChecks(TextWriter output, IReadOnlyList<InvariantCheck> checks)
    {
        foreach (var check in checks)
        {
            output.WriteLine($"  {(check.Held ? "ok    " : "BROKEN")}  {check.Name}: {check.Detail}");
        }
    }

    /// <summary>Counts by kind as text, e.g. "NetworkException 2, ServerException 1".</summary>
    public static string Kinds(IReadOnlyDictionary<string, int> kinds, string none = "") =>
        kinds.Count == 0 ? none : string.Join(", ", kinds.OrderByDescending(k => k.Value).ThenBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"));

    /// <summary>A duration in whole milliseconds.</summary>
    public static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";
}
