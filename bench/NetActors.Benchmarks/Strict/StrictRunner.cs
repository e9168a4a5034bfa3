using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// <c>--strict</c>: the strict benchmark's parent. For each upstream and scenario it runs rounds, each round one
/// fresh worker process per client in turn (baseline, NetActors; server GC; nothing else of the bench runs
/// meanwhile, so one client is alive at a time), collects each worker's JSON line, drops the rounds in which
/// other processes used more than the threshold of the machine, and reports medians and spread of what is kept.
/// </summary>
internal sealed class StrictRunner(StrictSettings settings)
{
    private static readonly TimeSpan WorkerExitLimit = TimeSpan.FromSeconds(30);
    private const int RoundsForTargets = 5;

    private readonly List<string> _preamble = [];
    private bool _failureInjected;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help"))
        {
            Console.WriteLine(StrictSettings.Usage);
            return 0;
        }

        StrictSettings settings;
        try
        {
            settings = StrictSettings.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        return await new StrictRunner(settings).RunAsync(string.Join(' ', args));
    }

    private async Task<int> RunAsync(string commandLine)
    {
        var total = Stopwatch.StartNew();
        _preamble.AddRange(
        [
            $"mode: {settings.Mode}: {settings.Rounds} interleaved rounds per scenario and upstream; {settings.Requests:N0} " +
            $"requests per GET run after warm-up batches of {settings.WarmupBatch:N0} (at least {settings.MinWarmupBatches}, " +
            $"until CPU per request is within 5 % of the batch before and the JIT compiled nothing in the batch and the 300 ms after it, at most {settings.MaxWarmupBatches}); {settings.Origins:N0} origins; " +
            $"overload phases of {settings.OverloadDuration.TotalSeconds:0} s",
            $"command: dotnet run -c Release --project bench/NetActors.Benchmarks -- {commandLine}",
            $"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC",
            $"machine: {Environment.ProcessorCount} cores{CpuModel()}, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; " +
            $"load average at start: {FormatLoadAverage()}",
            "each run: a fresh worker process (DOTNET_gcServer=1), one client alive at a time; rounds alternate the clients " +
            "(baseline, netactors, baseline, netactors, ...)",
            MachineLoad.Available
                ? $"noise: per run, other load = CPU used by processes other than the bench's (worker, bench, upstream) as a share " +
                  $"of all cores during the measured window, the larger of (/proc/stat user+nice+system+steal minus the bench's " +
                  $"/proc/<pid>/stat) and (the other processes' /proc/*/stat); a round with a run above {settings.MaxOtherLoad:P0} is dropped"
                : "noise: /proc/stat is not readable here, so other load is unknown and no round is dropped",
        ]);
        var report = new Report(_preamble);
        var failed = false;
        foreach (var upstream in settings.Upstreams)
        {
            failed |= !await RunUpstreamAsync(upstream, report);
        }

        _preamble.Add($"run time: {total.Elapsed.TotalSeconds:0} s; load average at the end: {FormatLoadAverage()}");
        Console.WriteLine(report.ToText());
        await report.WriteResultsAsync(settings.Mode);
        return failed ? 1 : 0;
    }

    /// <summary>Every scenario against one upstream; false when a run or the upstream failed.</summary>
    private async Task<bool> RunUpstreamAsync(string upstream, Report report)
    {
        var scenarios = settings.Scenarios.Select(k => StrictScenario.Find(k)!).ToList();
        IUpstreamProcess? process = null;
        if (upstream == Upstreams.Nginx)
        {
            if (NginxProcess.Find() is not { } nginx)
            {
                report.Add(new Section("Upstream nginx: skipped (nginx is not on PATH nor in /usr/sbin)", "scenario").Note(
                    "Install nginx (Debian: apt-get install nginx), or run with --upstream inproc,process for the Kestrel upstreams."));
                return true;
            }

            Console.Error.WriteLine($"upstream: starting {nginx} with the bench's own config on 127.0.0.1");
            try
            {
                var started = await NginxProcess.StartAsync(nginx, settings.InjectFailure == "upstream");
                process = started;
                _preamble.Add($"upstream nginx: {started.Version} ({nginx}) on {started.Info.BaseAddress}, the bench's own " +
                              "config in a temp prefix directory: daemon off, worker_processes 1 (2 cores: one for nginx, " +
                              "the worker client has the other), access_log off, keepalive_requests 1e9, keepalive_timeout 60s, " +
                              "GET /small a static file with Kestrel's bytes; counters from stub_status (no maximum concurrency); " +
                              "upstream CPU = master + worker (/proc); stopped by SIGQUIT to the pid in its pid file");
            }
            catch (ChildFailedException e)
            {
                Console.Error.WriteLine($"upstream FAILED: {e.Message}");
                report.Add(new Section("Upstream nginx: FAILED to start, its scenarios were not run", "error").Row(e.Message));
                return false;
            }
        }

        if (upstream == Upstreams.Process)
        {
            Console.Error.WriteLine($"upstream: starting the bench server in its own process ({settings.Origins} origin ports)");
            try
            {
                var started = await UpstreamProcess.StartAsync(settings.Origins, settings.InjectFailure == "upstream");
                process = started;
                _preamble.Add($"upstream process: Kestrel on {started.Info.BaseAddress} in its own process (server GC), " +
                              $"+{started.Info.OriginPorts.Length} origin ports");
            }
            catch (ChildFailedException e)
            {
                Console.Error.WriteLine($"upstream FAILED: {e.Message}");
                report.Add(new Section("Upstream process: FAILED to start, its scenarios were not run", "error")
                    .Row(e.Message));
                return false;
            }
        }

        var ok = true;
        try
        {
            foreach (var scenario in scenarios)
            {
                if (!scenario.SupportedUpstreams.Contains(upstream))
                {
                    continue;
                }

                var runs = new List<RunRecord>();
                for (var round = 1; round <= settings.Rounds; round++)
                {
                    foreach (var client in scenario.Clients)
                    {
                        var run = await RunWorkerAsync(scenario, client, upstream, round, process);
                        runs.Add(run);
                        Console.Error.WriteLine($"  {scenario.Key} {upstream} round {round} {client}: {run.Summary(scenario)}");
                        ok &= run.Error is null;
                    }

                    if (process is { IsAlive: false })
                    {
                        report.Add(Build(scenario, upstream, runs).Note(
                            $"**the upstream process died during round {round}** (stderr: {process.StderrTail}); " +
                            "this upstream's remaining scenarios were not run"));
                        return false;
                    }
                }

                report.Add(Build(scenario, upstream, runs));
            }
        }
        finally
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        return ok;
    }

    private async Task<RunRecord> RunWorkerAsync(StrictScenario scenario, string client, string upstream, int round,
        IUpstreamProcess? process)
    {
        List<string> args = ["--strict-worker", client, scenario.Key, .. settings.WorkerArguments(),
            "--own-pids", string.Join(',', new[] { Environment.ProcessId }.Concat(process?.Pids ?? []))];
        if (settings.InjectFailure is "worker" or "hang" && client == StrictClients.NetActors && !_failureInjected)
        {
            _failureInjected = true;
            args.AddRange(["--inject-failure", settings.InjectFailure]);
        }

        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" };
        if (process is not null)
        {
            environment[Upstreams.InfoVariable] = process.Json;
        }

        var role = $"worker {client} {scenario.Key} {upstream} round {round}";
        ChildProcess? child = null;
        try
        {
            child = ChildProcess.Start(role, args, environment);
            var line = await child.WaitForLineAsync(WorkerResult.LinePrefix, settings.WorkerLimit);
            var result = JsonSerializer.Deserialize<WorkerResult>(line, Upstreams.Json)
                         ?? throw new ChildFailedException($"{role}: unreadable result line");
            var exit = await child.WaitForExitAsync(WorkerExitLimit);
            return new RunRecord(round, client, result, exit is 0 ? null : $"{role} exited with {exit?.ToString() ?? "no exit (killed)"} after its result");
        }
        catch (Exception e) when (e is ChildFailedException or JsonException or InvalidOperationException)
        {
            return new RunRecord(round, client, null, e.Message);
        }
        finally
        {
            if (child is not null)
            {
                await child.DisposeAsync();
            }
        }
    }

    /// <summary>The scenario's table: one row per figure, over the kept rounds; notes on the rounds and the noise.</summary>
    private Section Build(StrictScenario scenario, string upstream, List<RunRecord> runs)
    {
        var baseline = scenario.Clients[0];
        var title = $"{scenario.Title}{(scenario.Key == "origins" ? $": {settings.Origins:N0} origins" : "")} — upstream {upstream}";
        var section = new Section(title, "figure", baseline, StrictClients.NetActors, "÷ baseline", "− baseline", "target", "met?");

        var rounds = runs.GroupBy(r => r.Round).OrderBy(g => g.Key).ToList();
        var kept = new List<(WorkerResult Base, WorkerResult Net)>();
        var roundNotes = new List<string>();
        foreach (var round in rounds)
        {
            var b = round.FirstOrDefault(r => r.Client == baseline);
            var n = round.FirstOrDefault(r => r.Client == StrictClients.NetActors);
            var loads = string.Join(" / ", round.Select(r => r.Result?.Load is { } l ? $"{l.Other:P0}" : "?"));
            string verdict;
            if (round.Any(r => r.Error is not null || r.Result is null))
            {
                verdict = "failed";
            }
            else if (round.Any(r => r.Result!.Load is { } l && l.Other > settings.MaxOtherLoad))
            {
                verdict = "dropped";
            }
            else
            {
                verdict = "kept";
                kept.Add((b!.Result!, n!.Result!));
            }

            roundNotes.Add($"r{round.Key} {loads} {verdict}");
        }

        // No quiet round at all: show every completed round rather than nothing, marked as noisy.
        var noisy = kept.Count == 0;
        if (noisy)
        {
            kept = rounds.Select(g => (g.FirstOrDefault(r => r.Client == baseline)?.Result, g.FirstOrDefault(r => r.Client == StrictClients.NetActors)?.Result))
                .Where(p => p.Item1 is not null && p.Item2 is not null).Select(p => (p.Item1!, p.Item2!)).ToList();
            section.Note($"**NO round was quiet enough (other load ≤ {settings.MaxOtherLoad:P0}): the figures are from all " +
                         $"{kept.Count} completed rounds, noisy, not to be quoted**");
        }

        foreach (var figure in scenario.Figures.Where(f => f != StrictScenario.ServerCpu || upstream != Upstreams.InProcess))
        {
            var bs = Summary.Of(kept.Select(k => Figure(k.Base, figure)).Where(v => !double.IsNaN(v)));
            var ns = Summary.Of(kept.Select(k => Figure(k.Net, figure)).Where(v => !double.IsNaN(v)));
            var ratios = Summary.Of(kept.Select(k => Figure(k.Net, figure) / Figure(k.Base, figure)).Where(double.IsFinite));
            var diffs = Summary.Of(kept.Select(k => Figure(k.Net, figure) - Figure(k.Base, figure)).Where(double.IsFinite));
            var decimals = StrictScenario.Decimals(figure);
            var targets = scenario.Targets.Where(t => t.Figure == figure && t.AppliesTo(upstream)).ToList();
            section.Row(figure, bs.Format(decimals), ns.Format(decimals), ratios.Format(2), diffs.Format(decimals),
                string.Join("; ", targets.Select(t => t.Text)),
                noisy ? (targets.Count > 0 ? "noisy" : "") : string.Join("; ", targets.Select(t => Verdict(t, ns, ratios, diffs, kept.Count))));
        }

        section.Note($"rounds kept: {(noisy ? 0 : kept.Count)} of {rounds.Count} (other load per run, {baseline} / netactors: " +
                     $"{string.Join("; ", roundNotes)}); values are median [min–max] over the kept rounds, ÷ and − per round then median.");
        foreach (var run in runs.Where(r => r.Error is not null))
        {
            section.Note($"**round {run.Round}, {run.Client}: FAILED: {run.Error}**");
        }

        foreach (var run in runs.Where(r => r.Result is { } x && (x.Errors > 0 || x.TimedOut)))
        {
            section.Note($"**round {run.Round}, {run.Client}: {run.Result!.Errors} errors{(run.Result.TimedOut ? ", timed out" : "")}** " +
                         $"(first: {run.Result.FirstError})");
        }

        foreach (var run in runs.Where(r => scenario.Load is not null && r.Result is { } x &&
                                            Figure(x, StrictScenario.ServerRequests) != x.Requests))
        {
            section.Note($"**round {run.Round}, {run.Client}: {run.Result!.Requests:N0} requests answered, " +
                         $"{Figure(run.Result, StrictScenario.ServerRequests):N0} received by the server**");
        }

        if (runs.Any(r => r.Result is { ServerGc: false }))
        {
            section.Note("**some workers did not run with server GC**");
        }

        var gets = scenario.Load is not null
            ? $" Server requests per run: {string.Join(", ", runs.Where(r => r.Result is not null).Select(r => Stats.Number(Figure(r.Result!, StrictScenario.ServerRequests), 0)).Distinct())}."
            : "";
        section.Note(scenario.Note + gets);
        if (scenario.Figures.Contains(StrictScenario.Cpu))
        {
            section.Note(upstream == Upstreams.InProcess
                ? "CPU µs/req is the worker process's CPU time over the measured window divided by its requests: with the in-process " +
                  "upstream the server's share is in it (the same for both clients); allocation likewise (GC.GetTotalAllocatedBytes)."
                : "CPU µs/req and alloc B/req are the client worker's only; upstream CPU µs/req is the server process's " +
                  $"{(upstream == Upstreams.Nginx ? "(nginx: master + worker) " : "")}(/proc, 10 ms ticks).");
        }

        if (!noisy && kept.Count < RoundsForTargets)
        {
            section.Note($"only {kept.Count} rounds kept: the targets need at least {RoundsForTargets}, so \"met?\" is provisional.");
        }

        return section;
    }

    private static string Verdict(Target target, Summary value, Summary ratio, Summary difference, int kept)
    {
        var figure = target.Kind switch
        {
            TargetKind.RatioAtLeast or TargetKind.RatioAtMost => ratio.Median,
            TargetKind.DifferenceAtMost => difference.Median,
            _ => value.Median,
        };
        if (double.IsNaN(figure))
        {
            return "n/a";
        }

        var met = target.Kind is TargetKind.RatioAtLeast or TargetKind.ValueAtLeast ? figure >= target.Limit : figure <= target.Limit;
        return (met ? "yes" : "**no**") + (kept < RoundsForTargets ? $" ({kept} rounds)" : "");
    }

    private static double Figure(WorkerResult result, string figure) => result.Figures.GetValueOrDefault(figure, double.NaN);

    /// <summary>", model name" from /proc/cpuinfo, or nothing.</summary>
    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "" : " (" + line[(line.IndexOf(':') + 1)..].Trim() + ")";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static string FormatLoadAverage() =>
        MachineLoad.LoadAverage() is { } l ? l.ToString("0.00", CultureInfo.InvariantCulture) : "unknown";

    /// <summary>One worker run: its result, or why there is none.</summary>
    private sealed record RunRecord(int Round, string Client, WorkerResult? Result, string? Error)
    {
        public string Summary(StrictScenario scenario)
        {
            if (Result is null)
            {
                return $"FAILED: {Error}";
            }

            var figures = string.Join(", ", scenario.Figures.Take(4).Select(f =>
                $"{f} {Stats.Number(Result.Figures.GetValueOrDefault(f, double.NaN), StrictScenario.Decimals(f))}"));
            var load = Result.Load is { } l
                ? $"other load {l.Other:P0} (machine {l.Busy:P0} busy, bench {l.Own:P0}, other processes {l.OtherProcesses:P0})"
                : "other load unknown";
            return $"{figures}; {load}; warm-up batches {Result.WarmupBatches}{(Error is null ? "" : $"; {Error}")}";
        }
    }
}
