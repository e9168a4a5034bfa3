using System.Diagnostics;
using NetActors.Benchmarks.Strict;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// Origins visited once are evicted: one NetActors client sends one GET to each of many origins (10,000 with
/// <c>--origin-count 10000</c>), then sits idle. The upstream runs in its own process (the strict benchmark's), so the
/// heap measured is the client's alone: an in-process Kestrel keeps a socket sender, a socket context and an
/// endpoint per listener it has once served (about 1 KB each), which would be counted against NetActors. Reported:
/// the managed heap before, right after the visits and once the idle origins are gone (idle-origin-timeout 5 s;
/// polled with full GCs until it is back within 10 % of the figure before, at most a minute), per origin and as a
/// ratio to the figure before; and how long that took.
/// </summary>
internal static class IdleOriginsScenario
{
    public static async Task RunAsync(Report report, BenchSettings settings)
    {
        Console.Error.WriteLine($"idle origins: starting an upstream process with {settings.Origins:N0} origin ports");
        await using var process = await UpstreamProcess.StartAsync(settings.Origins, fail: false);
        using var upstream = new RemoteUpstream(process.Info);
        var ports = upstream.OriginPorts;
        Console.Error.WriteLine($"idle origins: {ports.Count:N0} origins visited once, then idle");
        var urls = ManyOriginsScenario.Urls(ports, 1);
        var section = new Section($"Idle origins (netactors): {ports.Count:N0} origins × 1 GET /small, then idle (upstream in its own process)",
            "round", "heap before MB", "heap after visits MB", "B/origin after visits", "heap after idle MB",
            "after idle ÷ before", "B/origin after idle", "back within 10 % after s");
        var rounds = Math.Max(1, settings.Rounds / 2);
        for (var round = 1; round <= rounds; round++)
        {
            await using var client = await ManyOriginsScenario.StartNetActorsAsync(upstream, ManyOriginsScenario.Origins(ports));
            var run = await ManyOriginsScenario.MeasureAsync(upstream, client, urls, ports.Count, settings.MeasurementLimit);
            var visited = run.Before + (long)(run.BytesPerOrigin * ports.Count);
            var idle = Stopwatch.StartNew();
            var perOriginAfterIdle = await ManyOriginsScenario.AfterIdleAsync(run.Before, ports.Count);
            var afterIdle = run.Before + (long)(perOriginAfterIdle * ports.Count);
            section.Row(round.ToString(), Mb(run.Before), Mb(visited), $"{run.BytesPerOrigin:N0}", Mb(afterIdle),
                $"{(double)afterIdle / run.Before:0.00}", $"{perOriginAfterIdle:N0}", $"{idle.Elapsed.TotalSeconds:0.0}");
        }

        report.Add(section
            .Note("Heap: GC.GetTotalMemory(true) after full GCs. Before is measured after one request to the main origin; " +
                  "after idle is polled every 0.5 s once the visits end (idle-origin-timeout 5 s, pooled-connection-idle-timeout 1 s).")
            .Note("Goal (the origin-actor issue): after idle, within 10 % of the heap before."));
    }

    private static string Mb(long bytes) => $"{bytes / 1024.0 / 1024.0:0.0}";
}
