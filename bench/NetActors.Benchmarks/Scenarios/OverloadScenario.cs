using System.Diagnostics;
using System.Threading.RateLimiting;
using NetActors.Errors;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// Goodput under overload. An origin with cap 6 and queue 50 in front of a server that takes 2 ms per request;
/// callers that each send a GET and, when it is refused with <see cref="OverloadedException"/>, send again at
/// once. With 50 callers the origin is just full; with 1,000 most sends are refused. A runtime that refuses at
/// the edge keeps serving what it admitted at the server's pace; one whose refusals and completions share a
/// queue spends its time refusing, and goodput collapses. Reported: successful requests per second at 50 and at
/// 1,000 callers (and their ratio), and how long an <see cref="OverloadedException"/> took to come back.
/// </summary>
internal sealed class OverloadScenario(BenchServer server, BenchSettings settings)
{
    /// <summary>The origin's connection cap.</summary>
    public const int Cap = 6;

    /// <summary>The origin's queue capacity (NetActors), and the calm caller count.</summary>
    public const int Queue = 50;

    /// <summary>The overloading caller count.</summary>
    public const int Callers = 1_000;

    public async Task RunAsync(Report report)
    {
        Console.Error.WriteLine($"overload: cap {Cap}, queue {Queue}, 2 ms server, 50 and 1,000 callers resending");
        await using var client = await NetActorsClient.StartAsync(server, cap: Cap, c => c.WithQueueCapacity(Queue));
        await LoadRunner.WarmUpAsync(server, client, "small", 2_000, Cap, settings);

        // Refused callers resend at once (yielding to the pool only), or after a 1 ms pause, as a client with the
        // smallest backoff would; they learn of the refusal from a thrown OverloadedException (SendAsync) or from the
        // outcome (TrySendAsync).
        // The last row is the reference for bounded admission: raw HttpClient behind ConcurrencyLimiter, the same rule.
        var rows = new List<string[]>();
        await using var raw = new RawClient(server, Cap);
        using var limiter = Limiter();
        foreach (var (backoff, api) in new[] { (TimeSpan.Zero, Api.SendAsync), (TimeSpan.Zero, Api.TrySendAsync),
                     (TimeSpan.FromMilliseconds(1), Api.SendAsync), (TimeSpan.Zero, Api.RawLimiter), (TimeSpan.Zero, Api.RawLimiterThrown) })
        {
            var send = api switch
            {
                Api.SendAsync => Send(client.Net, "work"),
                Api.TrySendAsync => TrySend(client.Net, "work"),
                Api.RawLimiterThrown => BoundedThrown(limiter, (c, n) => raw.GetAsync($"work?c={c}&n={n}", CancellationToken.None)),
                _ => Bounded(limiter, (c, n) => raw.GetAsync($"work?c={c}&n={n}", CancellationToken.None)),
            };
            if (api is Api.RawLimiter or Api.RawLimiterThrown)
            {
                await RoundAsync(send, Callers, backoff, TimeSpan.FromSeconds(1), settings.MeasurementLimit); // its warm-up
            }

            var calm = new List<double>();
            var storm = new List<double>();
            var ratio = new List<double>();
            var refusals = new List<double>();
            var p50 = new List<double>();
            var p99 = new List<double>();
            for (var round = 0; round < settings.Rounds; round++)
            {
                var few = await RoundAsync(send, Queue, backoff, settings.OverloadDuration, settings.MeasurementLimit);
                var many = await RoundAsync(send, Callers, backoff, settings.OverloadDuration, settings.MeasurementLimit);
                calm.Add(few.Goodput);
                storm.Add(many.Goodput);
                ratio.Add(many.Goodput / few.Goodput);
                refusals.Add(many.RefusalsPerSecond);
                p50.Add(many.OverloadedP50Ms);
                p99.Add(many.OverloadedP99Ms);
            }

            var resend = (backoff == TimeSpan.Zero ? "at once" : $"after {backoff.TotalMilliseconds:0} ms") +
                         (api switch
                         {
                             Api.RawLimiter => ", raw HttpClient + ConcurrencyLimiter",
                             Api.RawLimiterThrown => ", raw HttpClient + ConcurrencyLimiter, refusal thrown",
                             _ => $", {api}",
                         });
            rows.Add([resend, Summary.Of(calm).Format(0), Summary.Of(storm).Format(0), Summary.Of(ratio).Format(2),
                Summary.Of(refusals).Format(0), Summary.Of(p50).Format(3), Summary.Of(p99).Format(3)]);
        }

        var section = new Section($"Overload (netactors): cap {Cap}, queue {Queue}, 2 ms server, callers resend after OverloadedException",
            "resend", "goodput req/s, 50 callers", "goodput req/s, 1,000 callers", "ratio", "refusals/s (1,000)",
            "Overloaded p50 ms", "Overloaded p99 ms");
        foreach (var row in rows)
        {
            section.Row(row);
        }

        report.Add(section
            .Note($"Each round runs {settings.OverloadDuration.TotalSeconds:0} s per caller count; every request has its own URL " +
                  "(no deduplication). Goal: goodput at 1,000 callers at least 0.8 × goodput at 50, Overloaded p99 under 1 ms.")
            .Note("Overloaded latency: from SendAsync to the refusal reaching the caller (a faulted task, already " +
                  "completed when SendAsync returns). The callers share the process's thread pool with the runtime: " +
                  "callers that resend at once spend the CPU the requests on the wire need.")
            .Note("SendAsync: the caller catches a thrown OverloadedException (about 5 µs each). TrySendAsync: the caller " +
                  "reads the refusal from the outcome (about 1 µs).")
            .Note("raw HttpClient + ConcurrencyLimiter: System.Threading.RateLimiting with NetActors' rule (6 permits, queue 50, " +
                  "a failed lease refuses at once), the same callers: what bounded admission keeps on this machine without NetActors. " +
                  "\"refusal thrown\": the same, the refusal a faulted task the caller awaits and catches, as SendAsync's."));
        report.Add(await RefusalCost.RunAsync(server, Math.Max(3, settings.Rounds)));
    }

    /// <summary>How a refused caller learns of its refusal.</summary>
    public enum Api
    {
        /// <summary>A thrown <see cref="OverloadedException"/>, caught.</summary>
        SendAsync,

        /// <summary>The outcome's <see cref="NetOutcome.Error"/>, never thrown.</summary>
        TrySendAsync,

        /// <summary>Not NetActors: a raw HttpClient behind <see cref="Limiter"/>, refused by a failed lease.</summary>
        RawLimiter,

        /// <summary>As <see cref="RawLimiter"/>, the refusal an exception the caller catches (<see cref="BoundedThrown"/>).</summary>
        RawLimiterThrown,
    }

    /// <summary>
    /// Sends GET <paramref name="url"/>?c=caller&amp;n=count through the bench client (every request its own URL);
    /// false when it was refused with a thrown <see cref="OverloadedException"/>.
    /// </summary>
    public static Func<int, int, ValueTask<bool>> Send(INetClient net, string url) => async (c, n) =>
    {
        try
        {
            await net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, $"{url}?c={c}&n={n}"));
            return true;
        }
        catch (OverloadedException)
        {
            return false;
        }
    };

    /// <summary>As <see cref="Send"/>, through <see cref="INetClient.TrySendAsync"/>: the refusal is a value, not thrown.</summary>
    public static Func<int, int, ValueTask<bool>> TrySend(INetClient net, string url) => async (c, n) =>
    {
        var outcome = await net.TrySendAsync(NetRequest.Get(NetActorsClient.ClientName, $"{url}?c={c}&n={n}"));
        if (outcome.Error is OverloadedException)
        {
            return false;
        }

        outcome.GetResponseOrThrow(); // any other error fails the round, as SendAsync's would
        return true;
    };

    /// <summary>
    /// The admission rule of a NetActors origin (cap 6, queue 50, refuse the rest at once) from
    /// System.Threading.RateLimiting, for a raw client: 6 permits, 50 queued, oldest first; a failed lease is the refusal.
    /// </summary>
    public static ConcurrencyLimiter Limiter() => new(new ConcurrencyLimiterOptions
    {
        PermitLimit = Cap,
        QueueLimit = Queue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    /// <summary>
    /// <paramref name="send"/> behind <paramref name="limiter"/>: false (refused) when the limiter's queue is full, as
    /// <see cref="TrySend"/> reads NetActors' refusal from the outcome.
    /// </summary>
    public static Func<int, int, ValueTask<bool>> Bounded(ConcurrencyLimiter limiter, Func<int, int, Task> send) => async (c, n) =>
    {
        using var lease = await limiter.AcquireAsync(1);
        if (!lease.IsAcquired)
        {
            return false;
        }

        await send(c, n);
        return true;
    };

    /// <summary>
    /// <paramref name="send"/> behind <paramref name="limiter"/>, the refusal thrown as <see cref="Send"/> reads
    /// NetActors': a failed lease comes back as a task already faulted with an exception, which the caller awaits and
    /// catches. What any client whose refusal is an exception keeps, on this machine, with the same callers.
    /// </summary>
    public static Func<int, int, ValueTask<bool>> BoundedThrown(ConcurrencyLimiter limiter, Func<int, int, Task> send) => async (c, n) =>
    {
        try
        {
            await SendOrRefuse(limiter, send, c, n);
            return true;
        }
        catch (RefusedException)
        {
            return false;
        }
    };

    private static Task SendOrRefuse(ConcurrencyLimiter limiter, Func<int, int, Task> send, int c, int n)
    {
        var acquiring = limiter.AcquireAsync(1);
        if (acquiring.IsCompletedSuccessfully && !acquiring.Result.IsAcquired)
        {
            acquiring.Result.Dispose();
            return Task.FromException(new RefusedException()); // as NetActors refuses: faulted before it returns
        }

        return SendLeasedAsync(acquiring, send, c, n);
    }

    private static async Task SendLeasedAsync(ValueTask<RateLimitLease> acquiring, Func<int, int, Task> send, int c, int n)
    {
        using var lease = await acquiring;
        if (!lease.IsAcquired)
        {
            throw new RefusedException();
        }

        await send(c, n);
    }

    /// <summary>The limiter's refusal, as an exception (<see cref="BoundedThrown"/>).</summary>
    private sealed class RefusedException() : Exception("The limiter's queue is full.");

    /// <summary>A send that is never refused (a client without a queue limit), for <see cref="RoundAsync"/>.</summary>
    public static Func<int, int, ValueTask<bool>> Never(Func<int, int, Task> send) => async (c, n) =>
    {
        await send(c, n);
        return true;
    };

    /// <summary>
    /// <paramref name="callers"/> callers send for <paramref name="duration"/>, each one request at a time
    /// (<paramref name="send"/> gets the caller's number and its request count, and answers false for a refusal),
    /// resending after a refusal at once or after <paramref name="backoff"/>.
    /// </summary>
    public static async Task<OverloadRound> RoundAsync(Func<int, int, ValueTask<bool>> send, int callers, TimeSpan backoff,
        TimeSpan duration, TimeSpan limit)
    {
        using var stop = new CancellationTokenSource(duration);
        var succeeded = 0L;
        var refusals = new List<long>[callers];
        var started = Stopwatch.GetTimestamp();
        var tasks = Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            var mine = refusals[c] = new List<long>(1024);
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var sent = Stopwatch.GetTimestamp();
                if (await send(c, n++))
                {
                    Interlocked.Increment(ref succeeded);
                }
                else
                {
                    mine.Add(Stopwatch.GetTimestamp() - sent);

                    // The refusal comes back before SendAsync returns; a caller that resends in a tight synchronous
                    // loop would hold its pool thread for ever (as with any synchronous failure). An async caller
                    // resends from the pool's queue, as a request arriving from outside would.
                    if (backoff > TimeSpan.Zero)
                    {
                        await Task.Delay(backoff);
                    }
                    else
                    {
                        await Task.Yield();
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(limit);
        var elapsed = Stopwatch.GetElapsedTime(started);

        var all = refusals.SelectMany(r => r).Order().ToArray();
        return new OverloadRound(Interlocked.Read(ref succeeded) / elapsed.TotalSeconds, all.Length / elapsed.TotalSeconds,
            Stats.PercentileMs(all, all.Length, 50), Stats.PercentileMs(all, all.Length, 99), Interlocked.Read(ref succeeded));
    }
}

/// <summary>One overload round: successful requests per second, refusals per second and how fast they came back.</summary>
internal sealed record OverloadRound(double Goodput, double RefusalsPerSecond, double OverloadedP50Ms, double OverloadedP99Ms,
    long Succeeded);
