using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace NetActors.Host.Load;

/// <summary>
/// The console's live view while a workload runs: samples the runtime's gauges several times a second (so the
/// highest in-flight count per origin is seen) and writes one line per interval: requests per second, in flight
/// and queued per origin (with the adaptive limit and rate of the origins that have them), refreshes, retries, 401s, deduplicated requests, cache hits and failures by kind.
/// </summary>
internal sealed class LiveProgress : IAsyncDisposable
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(100);
    private readonly MetricsWatch _watch;
    private readonly TextWriter? _output;
    private readonly TimeSpan _interval;
    private readonly IReadOnlyList<(string Origin, string Name)> _origins;
    private readonly Func<IEnumerable<(string Name, long Value)>>? _extras;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;

    /// <summary>Starts sampling; writes to <paramref name="output"/> every <paramref name="interval"/> (never when null or zero).</summary>
    /// <param name="watch">The meter listener.</param>
    /// <param name="output">Where the lines go.</param>
    /// <param name="interval">Time between lines.</param>
    /// <param name="origins">Origins to show, with the names they are shown under.</param>
    /// <param name="extras">Further counters to show (for example the workload's own cache hits).</param>
    public LiveProgress(MetricsWatch watch, TextWriter? output, TimeSpan interval,
        IReadOnlyList<(string Origin, string Name)> origins, Func<IEnumerable<(string Name, long Value)>>? extras = null)
    {
        _watch = watch;
        _output = interval > TimeSpan.Zero ? output : null;
        _interval = interval;
        _origins = origins;
        _extras = extras;
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        var last = _watch.Snapshot();
        var lastAt = _clock.Elapsed;
        using var timer = new PeriodicTimer(SampleEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                _watch.Sample();
                if (_output is null || _clock.Elapsed - lastAt < _interval)
                {
                    continue;
                }

                var now = _watch.Snapshot();
                var at = _clock.Elapsed;
                _output.WriteLine(Line(last, now, at - lastAt, at));
                last = now;
                lastAt = at;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _watch.Sample();
    }

    private string Line(MetricsSnapshot before, MetricsSnapshot now, TimeSpan span, TimeSpan at)
    {
        var sb = new StringBuilder();
        var rate = (now.Requests - before.Requests) / Math.Max(span.TotalSeconds, 0.001);
        sb.Append(CultureInfo.InvariantCulture, $"{at.TotalSeconds,5:0}s {rate,6:0} req/s");
        sb.Append(" | in flight/queued");
        foreach (var (origin, name) in _origins)
        {
            sb.Append(Origin(name, now.Origins.GetValueOrDefault(origin)));
        }

        sb.Append(CultureInfo.InvariantCulture,
            $" | refreshes {now.RefreshesSucceeded} | retries {now.Retries} | 401s {now.Unauthorized} | dedup {now.Deduplicated}");
        foreach (var (name, value) in _extras?.Invoke() ?? [])
        {
            sb.Append(CultureInfo.InvariantCulture, $" | {name} {value}");
        }

        foreach (var (name, value) in now.Other.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $" | {ShortName(name)} {value}");
        }

        var failed = now.Failures.Values.Sum();
        sb.Append(CultureInfo.InvariantCulture, $" | failed {failed}");
        if (failed > 0)
        {
            sb.Append(" (").AppendJoin(", ", now.Failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}")).Append(')');
        }

        return sb.ToString();
    }

    /// <summary>
    /// One origin's part of the line: " name in-flight/queued", the adaptive limit and rate when the origin has them
    /// (only origins with adaptive-concurrency or adaptive-rate enabled report them), and a circuit that is not closed.
    /// </summary>
    internal static string Origin(string name, OriginView? view)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $" {name} {view?.InFlight ?? 0}/{view?.Queued ?? 0}");
        if (view?.Limit is { } limit)
        {
            sb.Append(CultureInfo.InvariantCulture, $" (limit {limit})");
        }

        if (view?.Rate is { } permits)
        {
            sb.Append(CultureInfo.InvariantCulture, $" (rate {permits:0.#}/s)");
        }

        if (view is { CircuitState: > 0 })
        {
            sb.Append(view.CircuitState == 2 ? " (circuit open)" : " (half-open)");
        }

        return sb.ToString();
    }

    /// <summary>A readable name for a counter of the meter: the known ones by what they count, others without the prefix.</summary>
    private static string ShortName(string instrument) => instrument switch
    {
        "netactors.client.cache.requests" => "cache lookups",   // the runtime's: hits, revalidations, misses, stale
        _ when instrument.StartsWith("netactors.", StringComparison.Ordinal) => instrument["netactors.".Length..],
        _ => instrument,
    };

    /// <summary>Stops the view after one last sample.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
