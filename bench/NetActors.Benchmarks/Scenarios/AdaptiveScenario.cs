using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// Adaptive concurrency against a server with a real capacity: /capacity serves 8 requests at once at 20 ms and,
/// beyond that, queues them while every request in service slows by a quarter per capacity's worth waiting (its
/// throughput falls as it is over-committed); /capacity-503 answers 503 beyond 8 instead. 64 callers in a closed loop
/// (each sends its next request when it has the last one's outcome). Compared: static caps (max-connections 4 to
/// 64), and max-connections 64 with adaptive concurrency (gradient, and AIMD). Reported per configuration, median
/// [min–max] over the rounds: successful requests per second, the callers' p50 and p99 latency (queue wait
/// included), the 503 share, and the adaptive limit at the end of the round.
/// </summary>
internal sealed class AdaptiveScenario(BenchServer server, BenchSettings settings)
{
    private const int Callers = 64;

    // Short windows so that the limit settles within the warm-up of a few seconds (the defaults are 1 s and 60 s).
    private const string Adaptive = """
        netactors.clients.bench.adaptive-concurrency {
          enabled = on, window = 100ms, min-window-samples = 10, baseline-probe-interval = 10s
        }
        """;

    // No retries and no circuit breaker: each figure is the server's answer to what the limit let through.
    private const string Plain = """
        netactors.clients.bench.retry.max-attempts = 1
        netactors.clients.bench.circuit-breaker.enabled = off
        """;

    private TimeSpan Warmup => settings.Mode == "quick" ? TimeSpan.FromSeconds(1.5) : TimeSpan.FromSeconds(3);

    private TimeSpan Measure => settings.Mode == "quick" ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(6);

    public async Task RunAsync(Report report)
    {
        var slow = new (string Name, int Cap, string? Algorithm)[]
        {
            ("static 4", 4, null), ("static 8", 8, null), ("static 16", 16, null), ("static 32", 32, null), ("static 64", 64, null),
            ("adaptive gradient, max 64", 64, "gradient"), ("adaptive aimd, max 64", 64, "aimd"),
        };
        var rejecting = new (string Name, int Cap, string? Algorithm)[]
        {
            ("static 8", 8, null), ("static 64", 64, null), ("adaptive gradient, max 64", 64, "gradient"), ("adaptive aimd, max 64", 64, "aimd"),
        };

        report.Add(await TableAsync("capacity", "slows beyond", slow));
        report.Add(await TableAsync("capacity-503", "answers 503 beyond", rejecting));
    }

    private async Task<Section> TableAsync(string path, string beyond, (string Name, int Cap, string? Algorithm)[] configs)
    {
        var results = configs.ToDictionary(c => c.Name, _ => new List<Round>());
        for (var round = 0; round < settings.Rounds; round++)
        {
            foreach (var config in configs)
            {
                Console.Error.WriteLine($"adaptive: /{path}, {config.Name}, round {round + 1}/{settings.Rounds}");
                results[config.Name].Add(await RoundAsync(path, config.Cap, config.Algorithm));
            }
        }

        var section = new Section($"Adaptive concurrency: a server of capacity 8 at 20 ms that {beyond}, {Callers} callers in a closed loop",
            "configuration", "goodput req/s", "p50 ms", "p99 ms", "503 share %", "limit at end");
        foreach (var config in configs)
        {
            var rounds = results[config.Name];
            section.Row(config.Name, Summary.Of(rounds.Select(r => r.Goodput)).Format(0), Summary.Of(rounds.Select(r => r.P50Ms)).Format(0),
                Summary.Of(rounds.Select(r => r.P99Ms)).Format(0), Summary.Of(rounds.Select(r => r.RejectedShare * 100)).Format(1),
                config.Algorithm is null ? "-" : Summary.Of(rounds.Select(r => (double)r.Limit)).Format(0));
        }

        return section
            .Note($"Each round: a new runtime, {Warmup.TotalSeconds:0.#} s of load not measured (the adaptive limit starts with one window " +
                  $"at min-limit and settles), then {Measure.TotalSeconds:0} s measured. Every request has its own URL; no retries, " +
                  "no circuit breaker (a 503 counts as a refusal and the caller sends its next request).")
            .Note("Adaptive settings: window 100 ms, min-window-samples 10, baseline-probe-interval 10 s, the other keys at their " +
                  "reference defaults (rtt-tolerance 1.2, queue-allowance 1, smoothing 0.5, backoff-ratio 0.9).");
    }

    private readonly record struct Round(double Goodput, double P50Ms, double P99Ms, double RejectedShare, int Limit);

    private async Task<Round> RoundAsync(string path, int cap, string? algorithm)
    {
        var hocon = algorithm is null
            ? Plain
            : Plain + "\n" + Adaptive + $"\nnetactors.clients.bench.adaptive-concurrency.algorithm = {algorithm}";
        await using var client = await NetActorsClient.StartAsync(server, cap, c => c.WithDeduplication(false), hocon: hocon);
        var limit = LimitGauge(client.Services);
        var measuring = false;
        var ok = 0L;
        var rejected = 0L;
        var latencies = new List<long>[Callers];
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = new List<long>(4096);
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    await client.Net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, $"{path}?c={c}&n={n++}"), stop.Token);
                    if (Volatile.Read(ref measuring))
                    {
                        mine.Add(Stopwatch.GetTimestamp() - sent);
                        Interlocked.Increment(ref ok);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (ServerException)
                {
                    if (Volatile.Read(ref measuring))
                    {
                        Interlocked.Increment(ref rejected);
                    }
                }
            }
        })).ToArray();

        await Task.Delay(Warmup);
        foreach (var list in latencies)
        {
            list?.Clear(); // a caller may have finished one request between the flag and here: only measured ones count
        }

        var started = Stopwatch.GetTimestamp();
        Volatile.Write(ref measuring, true);
        await Task.Delay(Measure);
        Volatile.Write(ref measuring, false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var atEnd = limit();
        await stop.CancelAsync();
        await Task.WhenAll(tasks).WaitAsync(settings.MeasurementLimit);

        var all = latencies.SelectMany(l => l).Order().ToArray();
        var done = Interlocked.Read(ref ok);
        var refused = Interlocked.Read(ref rejected);
        return new Round(done / elapsed.TotalSeconds, Stats.PercentileMs(all, all.Length, 50), Stats.PercentileMs(all, all.Length, 99),
            done + refused == 0 ? 0 : refused / (double)(done + refused), atEnd);
    }

    /// <summary>Reads the runtime's <c>netactors.origin.concurrency_limit</c> gauge (0 when the origin has none).</summary>
    private static Func<int> LimitGauge(IServiceProvider services)
    {
        var meter = services.GetRequiredService<NetMetrics>().Meter;
        var listener = new MeterListener();
        var value = 0;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "netactors.origin.concurrency_limit")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, v, _, _) => value = v);
        listener.Start();
        return () =>
        {
            listener.RecordObservableInstruments();
            return value;
        };
    }
}
