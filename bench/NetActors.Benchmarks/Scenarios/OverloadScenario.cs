using System.Diagnostics;
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
    private const int Cap = 6;
    private const int Queue = 50;

    public async Task RunAsync(Report report)
    {
        Console.Error.WriteLine($"overload: cap {Cap}, queue {Queue}, 2 ms server, 50 and 1,000 callers resending");
        await using var client = await NetActorsClient.StartAsync(server, cap: Cap, c => c.WithQueueCapacity(Queue));
        await LoadRunner.WarmUpAsync(server, client, "small", 2_000, Cap, settings);

        var goodput = new Dictionary<int, List<double>> { [50] = [], [1_000] = [] };
        var overloadedP50 = new List<double>();
        var overloadedP99 = new List<double>();
        var ratio = new List<double>();
        for (var round = 0; round < settings.Rounds; round++)
        {
            var calm = await RoundAsync(client.Net, 50);
            var storm = await RoundAsync(client.Net, 1_000);
            goodput[50].Add(calm.Goodput);
            goodput[1_000].Add(storm.Goodput);
            ratio.Add(storm.Goodput / calm.Goodput);
            overloadedP50.Add(storm.OverloadedP50Ms);
            overloadedP99.Add(storm.OverloadedP99Ms);
        }

        report.Add(new Section($"Overload (netactors): cap {Cap}, queue {Queue}, 2 ms server, callers resend after OverloadedException",
                "callers", "goodput req/s", "goodput ÷ 50 callers'", "Overloaded p50 ms", "Overloaded p99 ms")
            .Row("50", Summary.Of(goodput[50]).Format(0), "", "", "")
            .Row("1,000", Summary.Of(goodput[1_000]).Format(0), Summary.Of(ratio).Format(2),
                Summary.Of(overloadedP50).Format(3), Summary.Of(overloadedP99).Format(3))
            .Note($"Each round runs {settings.OverloadDuration.TotalSeconds:0} s per caller count; every request has its own URL " +
                  "(no deduplication). Goal: goodput at 1,000 callers at least 0.8 × goodput at 50, Overloaded p99 under 1 ms.")
            .Note("Overloaded latency: from SendAsync to the refusal reaching the caller (a faulted task)."));
    }

    private async Task<(double Goodput, double OverloadedP50Ms, double OverloadedP99Ms)> RoundAsync(INetClient net, int callers)
    {
        using var stop = new CancellationTokenSource(settings.OverloadDuration);
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
                try
                {
                    await net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, $"work?c={c}&n={n++}"));
                    Interlocked.Increment(ref succeeded);
                }
                catch (OverloadedException)
                {
                    mine.Add(Stopwatch.GetTimestamp() - sent);
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(settings.MeasurementLimit);
        var elapsed = Stopwatch.GetElapsedTime(started);

        var all = refusals.SelectMany(r => r).Order().ToArray();
        return (Interlocked.Read(ref succeeded) / elapsed.TotalSeconds,
            Stats.PercentileMs(all, all.Length, 50), Stats.PercentileMs(all, all.Length, 99));
    }
}
