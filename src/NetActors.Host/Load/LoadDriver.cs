using System.Collections.Concurrent;
using System.Diagnostics;

namespace NetActors.Host.Load;

/// <summary>How a workload runs.</summary>
/// <param name="Duration">How long new operations are started.</param>
/// <param name="Rate">Operations started per second; 0: as fast as <paramref name="Concurrency"/> allows.</param>
/// <param name="Concurrency">Operations in progress at most (beyond it the driver waits).</param>
/// <param name="Seed">Seeds the choice of steps and each operation's own randomness.</param>
internal sealed record LoadPlan(TimeSpan Duration, double Rate, int Concurrency, int Seed);

/// <summary>One operation of a workload: its sequence number and a random source seeded for it alone.</summary>
internal sealed record LoadOp(long Sequence, Random Random);

/// <summary>A kind of operation and how often it is chosen relative to the others.</summary>
/// <param name="Name">Shown in the summary.</param>
/// <param name="Weight">Relative frequency (at least 1).</param>
/// <param name="RunAsync">Does the operation; a thrown exception is its failure.</param>
internal sealed record LoadStep(string Name, int Weight, Func<LoadOp, CancellationToken, Task> RunAsync);

/// <summary>What one step did.</summary>
internal sealed class StepStats(string name)
{
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private long _ok;

    /// <summary>The step's name.</summary>
    public string Name => name;

    /// <summary>Operations that completed.</summary>
    public long Succeeded => Interlocked.Read(ref _ok);

    /// <summary>Failed operations by kind.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures.ToDictionary(k => k.Key, k => k.Value);

    /// <summary>Operations finished.</summary>
    public long Total => Succeeded + _failures.Values.Sum();

    /// <summary>Time per operation.</summary>
    public LatencyHistogram Latency { get; } = new();

    internal void Record(TimeSpan elapsed, Exception? error)
    {
        Latency.Record(elapsed);
        if (error is null)
        {
            Interlocked.Increment(ref _ok);
        }
        else
        {
            _failures.AddOrUpdate(RequestLedger.KindOf(error), 1, (_, n) => n + 1);
        }
    }
}

/// <summary>What a workload did.</summary>
/// <param name="Steps">Per step, in the order given.</param>
/// <param name="Started">Operations started.</param>
/// <param name="Unfinished">Operations still running when the drain deadline passed (must be 0).</param>
/// <param name="Issuing">How long operations were started (the duration, or less when stopped early).</param>
/// <param name="Elapsed">From the first operation to the last outcome.</param>
internal sealed record LoadResult(IReadOnlyList<StepStats> Steps, long Started, long Unfinished, TimeSpan Issuing, TimeSpan Elapsed)
{
    /// <summary>Operations finished.</summary>
    public long Operations => Steps.Sum(s => s.Total);

    /// <summary>Operations started per second while they were being started.</summary>
    public double Rate => Started / Math.Max(Issuing.TotalSeconds, 0.001);
}

/// <summary>
/// Starts operations at a steady rate (open loop, with at most <see cref="LoadPlan.Concurrency"/> in progress),
/// each a step chosen by weight from a seeded sequence, until the duration is over; then waits for every
/// operation to finish.
/// </summary>
internal static class LoadDriver
{
    /// <summary>Runs <paramref name="steps"/> per <paramref name="plan"/>.</summary>
    /// <param name="steps">The steps.</param>
    /// <param name="plan">Duration, rate, concurrency, seed.</param>
    /// <param name="drainTimeout">How long to wait, after the duration, for operations still in progress.</param>
    /// <param name="stop">Stops starting operations early (those in progress finish).</param>
    public static async Task<LoadResult> RunAsync(IReadOnlyList<LoadStep> steps, LoadPlan plan, TimeSpan drainTimeout,
        CancellationToken stop)
    {
        var stats = steps.Select(s => new StepStats(s.Name)).ToArray();
        var cumulative = new int[steps.Count];
        var sum = 0;
        for (var i = 0; i < steps.Count; i++)
        {
            sum += steps[i].Weight;
            cumulative[i] = sum;
        }

        var choose = new Random(plan.Seed);
        var slots = new SemaphoreSlim(plan.Concurrency, plan.Concurrency);
        var clock = Stopwatch.StartNew();
        long started = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var remaining = plan.Duration - clock.Elapsed;
                if (plan.Rate > 0)
                {
                    var wait = TimeSpan.FromSeconds(started / plan.Rate) - clock.Elapsed;
                    if (wait >= remaining)
                    {
                        break;
                    }

                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, stop);
                        remaining = plan.Duration - clock.Elapsed;
                    }
                }

                if (remaining <= TimeSpan.Zero || !await slots.WaitAsync(remaining, stop))
                {
                    break;
                }

                var pick = Array.BinarySearch(cumulative, choose.Next(sum) + 1);
                var index = pick >= 0 ? pick : ~pick;
                var op = new LoadOp(started, new Random(HashCode.Combine(plan.Seed, started)));
                started++;
                _ = RunOneAsync(steps[index], stats[index], op, slots);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped early: drain what runs.
        }

        var issuing = clock.Elapsed;

        // Every operation holds a slot while it runs: all slots back means all operations are done.
        var drained = 0;
        var deadline = Stopwatch.StartNew();
        while (drained < plan.Concurrency)
        {
            var left = drainTimeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !await slots.WaitAsync(left))
            {
                break;
            }

            drained++;
        }

        return new LoadResult(stats, started, plan.Concurrency - drained, issuing, clock.Elapsed);
    }

    private static async Task RunOneAsync(LoadStep step, StepStats stats, LoadOp op, SemaphoreSlim slots)
    {
        var started = Stopwatch.GetTimestamp();
        Exception? error = null;
        try
        {
            // Operations are not cancelled by the driver's stop: each request ends by its own timeout.
            await Task.Yield();
            await step.RunAsync(op, CancellationToken.None);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            stats.Record(Stopwatch.GetElapsedTime(started), error);
            slots.Release();
        }
    }
}
