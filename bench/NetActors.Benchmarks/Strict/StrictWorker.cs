using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using NetActors.Benchmarks.Scenarios;

namespace NetActors.Benchmarks.Strict;

/// <summary>What one worker measured: one client, one scenario, one round. Printed as one JSON line after "RESULT ".</summary>
internal sealed record WorkerResult(
    string Client,
    string Scenario,
    string Upstream,
    bool ServerGc,
    int Requests,
    int Errors,
    bool TimedOut,
    string? FirstError,
    int WarmupBatches,
    Dictionary<string, double> Figures,
    LoadSample? Load)
{
    public const string LinePrefix = "RESULT ";
}

/// <summary>
/// <c>--strict-worker &lt;client&gt; &lt;scenario&gt; [sizes]</c>: one client, alone in a fresh process (server GC is set by
/// the bench through DOTNET_gcServer), warmed up until its CPU per request and the JIT settle, then measured once. The
/// upstream is in this process, or the one described by NETACTORS_BENCH_UPSTREAM. Exits when stdin closes.
/// </summary>
internal sealed class StrictWorker
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private readonly string _clientName;
    private readonly StrictScenario _scenario;
    private readonly int _requests;
    private readonly int _warmupBatch;
    private readonly int _minBatches;
    private readonly int _maxBatches;
    private readonly TimeSpan _settle;
    private readonly int _origins;
    private readonly TimeSpan _overload;
    private readonly int[] _ownPids;
    private readonly bool _hang;
    private int _warmupBatches;

    private StrictWorker(string[] args)
    {
        var at = Array.IndexOf(args, "--strict-worker");
        _clientName = args[at + 1];
        _scenario = StrictScenario.Find(args[at + 2]) ?? throw new ArgumentException($"unknown scenario {args[at + 2]}");
        string Option(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 ? args[i + 1] : fallback;
        _requests = int.Parse(Option("--requests", "3000"), CultureInfo.InvariantCulture);
        var warmup = Option("--warmup", "1000,2,5,200").Split(',').Select(int.Parse).ToArray();
        (_warmupBatch, _minBatches, _maxBatches, _settle) = (warmup[0], warmup[1], warmup[2], TimeSpan.FromMilliseconds(warmup[3]));
        _origins = int.Parse(Option("--origins", "100"), CultureInfo.InvariantCulture);
        _overload = TimeSpan.FromMilliseconds(int.Parse(Option("--overload-ms", "1000"), CultureInfo.InvariantCulture));
        _ownPids = Option("--own-pids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        if (Option("--inject-failure", "") == "worker")
        {
            throw new InvalidOperationException("failing on purpose (--inject-failure worker)");
        }

        _hang = Option("--inject-failure", "") == "hang";
    }

    public static async Task<int> RunAsync(string[] args)
    {
        ParentWatch.ExitWhenStdinCloses();
        var worker = new StrictWorker(args);
        var info = Environment.GetEnvironmentVariable(Upstreams.InfoVariable);
        if (info is null)
        {
            await using var server = await BenchServer.StartAsync(worker._scenario.Key == "origins" ? worker._origins : 0);
            await worker.RunAsync(server, Upstreams.InProcess);
        }
        else
        {
            var upstream = JsonSerializer.Deserialize<UpstreamInfo>(info, Upstreams.Json)!;
            if (upstream.Kind == Upstreams.Nginx)
            {
                using var nginx = new NginxUpstream(upstream);
                await worker.RunAsync(nginx, upstream.Kind);
            }
            else
            {
                using var remote = new RemoteUpstream(upstream);
                await worker.RunAsync(remote, upstream.Kind);
            }
        }

        return 0;
    }

    private async Task RunAsync(IUpstream server, string upstream)
    {
        if (_hang)
        {
            // --inject-failure hang: the bench must kill it at --worker-limit and report the round as failed.
            Console.Error.WriteLine("worker: hanging on purpose (--inject-failure hang)");
            await Task.Delay(Timeout.Infinite);
        }

        var result = _scenario.Key switch
        {
            "storm" => await StormAsync(server),
            "overload" => await OverloadAsync(server),
            "origins" => await OriginsAsync(server),
            _ => await GetsAsync(server, _scenario.Load!.Value.Concurrency, _scenario.Load.Value.Cap),
        };
        result = result with { Upstream = upstream, ServerGc = GCSettings.IsServerGC, WarmupBatches = _warmupBatches };
        Console.WriteLine(WorkerResult.LinePrefix + JsonSerializer.Serialize(result, Upstreams.Json));
        Console.Out.Flush();
    }

    /// <summary>The GET scenarios: warm-up batches until CPU per request and the JIT settle, then one measured run.</summary>
    private async Task<WorkerResult> GetsAsync(IUpstream server, int concurrency, int cap)
    {
        await using var client = await CreateClientAsync(server, cap);
        // Warm-up URLs differ from the measured ones (?w=i against ?n=i): no request of the run repeats an earlier URL.
        var warmSend = Sender(client, server, concurrency, "small?w=", _warmupBatch);
        var send = Sender(client, server, concurrency, "small?n=", _requests);
        double? previous = null;
        for (_warmupBatches = 1; ; _warmupBatches++)
        {
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            var w = await LoadRunner.MeasureAsync(warmSend, _warmupBatch, concurrency, Limit);
            if (w.Errors > 0 || w.TimedOut)
            {
                throw new InvalidOperationException($"warm-up: {w.Errors} errors, timed out: {w.TimedOut}, first: {w.FirstError}");
            }

            // Settled: two batches in a row within 5 % of each other in CPU per request, and no method compiled during
            // the batch and the pause after it, in which tiering's background compiles of the batch's hot methods land
            // (or the most batches allowed). CPU alone settled too early: a client with more code on the path (an
            // actor system) still had methods on tier-0 code after 3 batches and ran 25-40 % slower than after 12.
            await Task.Delay(StormScenario.JitSettle);
            var jitSettled = System.Runtime.JitInfo.GetCompiledMethodCount() == compiled;
            var settled = jitSettled && previous is { } p && Math.Abs(w.CpuUsPerRequest - p) <= 0.05 * p;
            if (_warmupBatches >= _maxBatches || (settled && _warmupBatches >= _minBatches))
            {
                break;
            }

            previous = w.CpuUsPerRequest;
        }

        await Task.Delay(_settle);
        Stats.FullGc();
        await server.ResetMaxConcurrencyAsync();
        var before = await server.CountersAsync();
        var upstreamTicks = MachineLoad.ReadProcesses(UpstreamPids(server));
        var load = MachineLoad.Start(_ownPids);
        var m = await LoadRunner.MeasureAsync(send, _requests, concurrency, Limit);
        var sample = load.Stop();
        var upstreamUs = (MachineLoad.ReadProcesses(UpstreamPids(server)) - upstreamTicks) * MachineLoad.TickMicroseconds;
        var after = await server.CountersAsync();
        return Result(m, sample, new()
        {
            [StrictScenario.Rps] = m.RequestsPerSecond,
            [StrictScenario.P50] = m.P50Ms,
            [StrictScenario.P99] = m.P99Ms,
            [StrictScenario.Cpu] = m.CpuUsPerRequest,
            [StrictScenario.ServerCpu] = server is BenchServer ? double.NaN : upstreamUs / Math.Max(1, m.Requests),
            [StrictScenario.Alloc] = m.AllocatedBytesPerRequest,
            [StrictScenario.ServerRequests] = after.Requests - before.Requests,
        });
    }

    /// <summary>
    /// How the client sends request i from worker w. URLs are built before the measurement, the same way for lean raw
    /// and NetActors:
    /// absolute Uris (NetActors through NetRequest.Get(client, Uri), sent without parsing its text again); relative
    /// strings (its base address does the rest) for typical raw.
    /// </summary>
    private static Func<int, int, CancellationToken, Task> Sender(IBenchClient client, IUpstream server, int concurrency,
        string prefix, int count)
    {
        var relative = Enumerable.Range(0, count).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        if (client is LeanRawClient lean)
        {
            var uris = relative.Select(u => new Uri(server.BaseAddress, u)).ToArray();
            var buffers = Enumerable.Range(0, concurrency).Select(_ => new byte[LeanRawClient.BufferSize]).ToArray();
            return (w, i, ct) => lean.GetAsync(uris[i % uris.Length], buffers[w], ct);
        }

        if (client is NetActorsClient net)
        {
            var uris = relative.Select(u => new Uri(server.BaseAddress, u)).ToArray();
            return (_, i, ct) => net.GetAsync(uris[i % uris.Length], ct);
        }

        return (_, i, ct) => client.GetAsync(relative[i % relative.Length], ct);
    }

    private async Task<IBenchClient> CreateClientAsync(IUpstream server, int cap) => _clientName switch
    {
        StrictClients.LeanRaw => new LeanRawClient(server, cap),
        StrictClients.TypicalRaw => new RawClient(server, cap),
        StrictClients.NetActors => await NetActorsClient.StartAsync(server, cap),
        _ => throw new ArgumentException($"client {_clientName} does not run {_scenario.Key}"),
    };

    /// <summary>Warm-up storms until the JIT settles, then the measured one, with the process's CPU and allocations around it.</summary>
    private async Task<WorkerResult> StormAsync(IUpstream server)
    {
        var urls = LoadRunner.UniqueUrls("storm", StormScenario.Requests);
        await using var netactors = _clientName == StrictClients.NetActors
            ? await NetActorsClient.StartAsync(server, StormScenario.Cap)
            : null;
        await using var singleFlight = _clientName == StrictClients.SingleFlight ? new SingleFlightClient(server, StormScenario.Cap) : null;
        IStormClient client = netactors is not null
            ? new StormScenario.NetActorsStormClient(netactors)
            : singleFlight ?? throw new ArgumentException($"client {_clientName} does not run the storm");
        _warmupBatches = await StormScenario.WarmUpAsync(server, client, urls);

        await Task.Delay(_settle);
        var (cpu, allocated) = (Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalAllocatedBytes(true));
        var load = MachineLoad.Start(_ownPids);
        var run = await StormScenario.RoundAsync(server, client, urls);
        var sample = load.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        allocated = GC.GetTotalAllocatedBytes(true) - allocated;
        var m = new Measurement(urls.Length - run.Failures, run.Failures, run.TimedOut, TimeSpan.FromMilliseconds(run.DrainMs),
            run.P50Ms, run.MaxMs, cpu.TotalMicroseconds / urls.Length, (double)allocated / urls.Length,
            run.ServerMaxConcurrency, run.ServerRequests, run.FirstError);
        return Result(m, sample, new()
        {
            [StrictScenario.Drain] = run.DrainMs,
            [StrictScenario.P50] = run.P50Ms,
            [StrictScenario.MaxMs] = run.MaxMs,
            [StrictScenario.Refreshes] = run.Refreshes,
            [StrictScenario.Unauthorized] = run.Unauthorized,
            [StrictScenario.ServerRequests] = run.ServerRequests,
            [StrictScenario.Cpu] = m.CpuUsPerRequest,
            [StrictScenario.Alloc] = m.AllocatedBytesPerRequest,
        });
    }

    /// <summary>50 callers, then 1,000, each for the overload duration, against the 2 ms /work endpoint at cap 6.</summary>
    private async Task<WorkerResult> OverloadAsync(IUpstream server)
    {
        const int cap = OverloadScenario.Cap;
        await using var client = _clientName switch
        {
            StrictClients.NetActors => await NetActorsClient.StartAsync(server, cap, c => c.WithQueueCapacity(OverloadScenario.Queue)),
            _ => await CreateClientAsync(server, cap),
        };
        // Lean raw's counterpart is the same handler behind System.Threading.RateLimiting's ConcurrencyLimiter (6
        // permits, queue 50): the same admission rule and the same spinning callers, so its goodput is what bounded
        // admission keeps on this machine, whoever implements it. In the first rows its refusal is an exception the
        // caller catches (as SendAsync's), in the second a failed lease read as a value (as TrySendAsync's outcome).
        using var limiter = OverloadScenario.Limiter();
        var send = client switch
        {
            NetActorsClient net => OverloadScenario.Send(net.Net, "work"),
            LeanRawClient lean => OverloadScenario.BoundedThrown(limiter, LeanSend(lean, server)),
            _ => OverloadScenario.Never((c, n) => client.GetAsync($"work?c={c}&n={n}", CancellationToken.None)),
        };

        var trySend = client switch
        {
            NetActorsClient tryNet => OverloadScenario.TrySend(tryNet.Net, "work"),
            LeanRawClient lean => OverloadScenario.Bounded(limiter, LeanSend(lean, server)),
            _ => null,
        };

        // Warm-up: every phase, briefly, until the JIT compiled nothing in a pass and the pause after it (as the GET
        // scenarios; a single pass left the refusal and queue paths on tier-0 code).
        var warm = TimeSpan.FromMilliseconds(Math.Min(1_000, _overload.TotalMilliseconds));
        for (_warmupBatches = 1; ; _warmupBatches++)
        {
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await OverloadScenario.RoundAsync(send, OverloadScenario.Queue, TimeSpan.Zero, warm, Limit);
            await OverloadScenario.RoundAsync(send, OverloadScenario.Callers, TimeSpan.Zero, warm, Limit);
            if (trySend is not null)
            {
                await OverloadScenario.RoundAsync(trySend, OverloadScenario.Callers, TimeSpan.Zero, warm, Limit);
            }

            await Task.Delay(StormScenario.JitSettle);
            if (_warmupBatches >= Math.Min(_maxBatches, 8) || System.Runtime.JitInfo.GetCompiledMethodCount() == compiled)
            {
                break;
            }
        }

        await Task.Delay(_settle);
        Stats.FullGc();

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var load = MachineLoad.Start(_ownPids);
        var started = Stopwatch.GetTimestamp();
        var few = await OverloadScenario.RoundAsync(send, OverloadScenario.Queue, TimeSpan.Zero, _overload, Limit);
        var many = await OverloadScenario.RoundAsync(send, OverloadScenario.Callers, TimeSpan.Zero, _overload, Limit);
        var manyTry = trySend is null
            ? many
            : await OverloadScenario.RoundAsync(trySend, OverloadScenario.Callers, TimeSpan.Zero, _overload, Limit);
        var sample = load.Stop();
        var wall = Stopwatch.GetElapsedTime(started);
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var succeeded = (int)(few.Succeeded + many.Succeeded + (trySend is null ? 0 : manyTry.Succeeded));
        var m = new Measurement(succeeded, 0, false, wall, double.NaN, double.NaN,
            cpu.TotalMicroseconds / Math.Max(1, succeeded), double.NaN, 0, 0, null);
        return Result(m, sample, new()
        {
            [StrictScenario.Goodput50] = few.Goodput,
            [StrictScenario.Goodput1000] = many.Goodput,
            [StrictScenario.GoodputRatio] = many.Goodput / few.Goodput,
            [StrictScenario.RefusalsPerSecond] = many.RefusalsPerSecond,
            [StrictScenario.OverloadedP99] = many.OverloadedP99Ms,
            [StrictScenario.Goodput1000Try] = manyTry.Goodput,
            [StrictScenario.GoodputRatioTry] = manyTry.Goodput / few.Goodput,
            [StrictScenario.OverloadedP99Try] = manyTry.OverloadedP99Ms,
            [StrictScenario.RefusalsPerSecondTry] = manyTry.RefusalsPerSecond,
            [StrictScenario.Cpu] = m.CpuUsPerRequest,
        });
    }

    private static Func<int, int, Task> LeanSend(LeanRawClient lean, IUpstream server)
    {
        var buffers = Enumerable.Range(0, OverloadScenario.Callers).Select(_ => new byte[LeanRawClient.BufferSize]).ToArray();
        return (c, n) => lean.GetAsync(new Uri(server.BaseAddress, $"work?c={c}&n={n}"), buffers[c], CancellationToken.None);
    }

    /// <summary>A warm-up client on the first 100 origins (disposed), then a fresh one on all, measured.</summary>
    private async Task<WorkerResult> OriginsAsync(IUpstream server)
    {
        var ports = server.OriginPorts;
        var urls = ManyOriginsScenario.Urls(ports, 10);
        var origins = ManyOriginsScenario.Origins(ports);
        var openBefore = (await server.CountersAsync()).OpenConnections;
        await using (var warm = await OriginsClientAsync(server, origins))
        {
            var warmUrls = ManyOriginsScenario.Urls(ports.Take(100).ToArray(), 1);
            await LoadRunner.MeasureAsync((_, i, ct) => warm.GetAsync(warmUrls[i], ct), warmUrls.Length,
                ManyOriginsScenario.Concurrency, Limit);
        }

        _warmupBatches = 1;
        await WaitForConnectionsAsync(server, openBefore);
        await Task.Delay(_settle);

        await using var client = await OriginsClientAsync(server, origins);
        var load = MachineLoad.Start(_ownPids);
        var run = await ManyOriginsScenario.MeasureAsync(server, client, urls, ports.Count, Limit);
        var sample = load.Stop();
        return Result(run.Run, sample, new()
        {
            [StrictScenario.BytesPerOrigin] = run.BytesPerOrigin,
            [StrictScenario.Rps] = run.Rps,
            [StrictScenario.Connections] = run.Connections,
            [StrictScenario.ServerRequests] = run.Run.ServerRequests,
        });
    }

    private async Task<IBenchClient> OriginsClientAsync(IUpstream server, string[] origins) => _clientName == StrictClients.NetActors
        ? await ManyOriginsScenario.StartNetActorsAsync(server, origins)
        : await CreateClientAsync(server, ManyOriginsScenario.Cap);

    /// <summary>Until the server's open connections are back to <paramref name="openBefore"/>, for at most 5 s.</summary>
    private static async Task WaitForConnectionsAsync(IUpstream server, int openBefore)
    {
        var deadline = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
        while ((await server.CountersAsync()).OpenConnections > openBefore && Stopwatch.GetTimestamp() < deadline)
        {
            Stats.FullGc();
            await Task.Delay(50);
        }
    }

    /// <summary>The upstream's processes, for its CPU: the bench server's, or nginx's master and workers.</summary>
    private static int[] UpstreamPids(IUpstream server) => server switch
    {
        RemoteUpstream remote => [remote.Info.Pid],
        NginxUpstream nginx => MachineLoad.WithChildren(nginx.Info.Pid),
        _ => [],
    };

    private WorkerResult Result(Measurement m, LoadSample? load, Dictionary<string, double> figures) =>
        new(_clientName, _scenario.Key, "", false, m.Requests, m.Errors, m.TimedOut, m.FirstError, _warmupBatches,
            figures, load);
}
