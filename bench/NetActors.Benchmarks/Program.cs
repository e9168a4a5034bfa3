using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;
using NetActors.Benchmarks;
using NetActors.Benchmarks.Scenarios;
using NetActors.Benchmarks.Strict;

// dotnet run -c Release --project bench/NetActors.Benchmarks [-- --quick] [-- --origin-count <n>] [-- --overload | --origins | --idle-origins | --adaptive | --alloc-profile | --load <client> <n> | --compare <n> [--variant <hocon>] [--rounds <n>]]
// dotnet run -c Release --project bench/NetActors.Benchmarks -- --strict [--quick] [options: see Strict/StrictSettings.cs]
// One in-process Kestrel server on 127.0.0.1; raw HttpClient, IHttpClientFactory + standard resilience, and
// NetActors compared against it at the same connection caps. Progress goes to stderr, the report to stdout
// and to results-<mode>.md beside this project.
if (args.Contains("--strict-worker") || args.Contains("--serve") || args.Contains("--strict"))
{
    // The strict benchmark (see Strict/StrictRunner.cs): the parent, one of its workers, or its upstream process.
    try
    {
        Environment.ExitCode = args.Contains("--strict-worker") ? await StrictWorker.RunAsync(args)
            : args.Contains("--serve") ? await Upstreams.ServeAsync(
                Array.IndexOf(args, "--origins") is var o and >= 0 ? int.Parse(args[o + 1]) : 0,
                args.Contains("--inject-failure"))
            : await StrictRunner.RunAsync(args);
    }
    catch (Exception e)
    {
        // The message last: the bench reports the last lines of a failed child's stderr.
        Console.Error.WriteLine(e);
        Console.Error.WriteLine($"failed: {e.GetType().Name}: {e.Message}");
        Environment.ExitCode = 1;
    }

    return;
}

var settings = args.Contains("--quick") ? BenchSettings.Quick : BenchSettings.Full;
if (Array.IndexOf(args, "--origin-count") is var originCount and >= 0)
{
    settings = settings with { Origins = int.Parse(args[originCount + 1], System.Globalization.CultureInfo.InvariantCulture) };
}

if (Array.IndexOf(args, "--rounds") is var rounds and >= 0)
{
    settings = settings with { Rounds = int.Parse(args[rounds + 1], System.Globalization.CultureInfo.InvariantCulture) };
}

var date = $"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
var machine = $"machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, " +
              $"{RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC";
if (args.Contains("--idle-origins"))
{
    // Its own upstream process: the heap measured is the client's alone.
    var idleReport = new Report([date, machine]);
    await IdleOriginsScenario.RunAsync(idleReport, settings);
    Console.WriteLine(idleReport.ToText());
    return;
}

var total = Stopwatch.StartNew();

Console.Error.WriteLine($"NetActors benchmarks, {settings.Mode} mode: starting the server");
var server = await BenchServer.StartAsync(settings.Origins);
var preamble = new List<string>
{
    $"mode: {settings.Mode} ({settings.Rounds} rounds, warm-up {settings.WarmupRequests:N0} requests per client)",
    date,
    machine,
    $"server: Kestrel in-process on {server.BaseAddress} (+{server.OriginPorts.Count} ports for the many-origins scenario)",
};
var report = new Report(preamble);
if (args.Contains("--overload") || args.Contains("--origins") || args.Contains("--adaptive") || args.Contains("--storm"))
{
    // Only the overload scenario, or only the many-origins one, the adaptive concurrency one or the 401 storm.
    try
    {
        await (args.Contains("--overload") ? new OverloadScenario(server, settings).RunAsync(report)
            : args.Contains("--adaptive") ? new AdaptiveScenario(server, settings).RunAsync(report)
            : args.Contains("--storm") ? new StormScenario(server, settings, args.Contains("--valid-token")).RunAsync(report)
            : new ManyOriginsScenario(server, settings).RunAsync(report));
        Console.WriteLine(report.ToText());
    }
    finally
    {
        await server.DisposeAsync();
    }

    return;
}

var load = Array.IndexOf(args, "--load");
var compare = Array.IndexOf(args, "--compare");
if (args.Contains("--alloc-profile") || load >= 0 || compare >= 0)
{
    // Diagnostics: which types NetActors allocates per request beyond raw HttpClient, load for a profiler, or
    // a quick raw-against-NetActors comparison.
    try
    {
        var profile = new AllocationProfile(server, settings);
        await (load >= 0 ? profile.LoadAsync(args[load + 1], int.Parse(args[load + 2]))
            : compare >= 0 ? profile.CompareAsync(int.Parse(args[compare + 1]),
                Array.IndexOf(args, "--variant") is var v and >= 0 ? args[v + 1] : null,
                Array.IndexOf(args, "--rounds") is var r and >= 0 ? int.Parse(args[r + 1]) : 5)
            : profile.RunAsync());
    }
    finally
    {
        await server.DisposeAsync();
    }

    return;
}

try
{
    await new ThroughputScenario(server, settings).RunAsync(report);
    await new CapFidelityScenario(server, settings).RunAsync(report);
    await new QueueCostScenario(server, settings).RunAsync(report);
    await new ManyOriginsScenario(server, settings).RunAsync(report);
    await new StormScenario(server, settings).RunAsync(report);
    await new OverloadScenario(server, settings).RunAsync(report);
    await new AdaptiveScenario(server, settings).RunAsync(report);
}
finally
{
    await server.DisposeAsync();
}

preamble.Add($"run time: {total.Elapsed.TotalSeconds:0.0} s");
Console.WriteLine(report.ToText());
await report.WriteResultsAsync(settings.Mode);
