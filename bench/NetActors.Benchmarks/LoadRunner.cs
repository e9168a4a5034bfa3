using System.Diagnostics;

namespace NetActors.Benchmarks;

/// <summary>What one load run measured. CPU and allocations are the whole process's (the server is in it too).</summary>
internal sealed record Measurement(
    int Requests,
    int Errors,
    bool TimedOut,
    TimeSpan Wall,
    double P50Ms,
    double P99Ms,
    double CpuUsPerRequest,
    double AllocatedBytesPerRequest,
    int ServerMaxConcurrency,
    long ServerRequests,
    string? FirstError)
{
    public double RequestsPerSecond => Requests / Wall.TotalSeconds;
}

/// <summary>
/// Runs <c>requests</c> requests with a fixed number of workers, each sending one request at a time, bounded
/// in count and in time, and measures throughput, latency, CPU and allocations.
/// </summary>
internal static class LoadRunner
{
    /// <param name="server">The server, whose max concurrency is reset before and read after.</param>
    /// <param name="send">Sends request number i.</param>
    /// <param name="requests">How many requests in all.</param>
    /// <param name="concurrency">How many workers.</param>
    /// <param name="limit">Time limit: past it the run stops and is marked as timed out.</param>
    public static async Task<Measurement> RunAsync(BenchServer server, Func<int, CancellationToken, Task> send,
        int requests, int concurrency, TimeSpan limit)
    {
        Stats.FullGc();
        server.ResetMaxConcurrency();
        var serverRequestsBefore = server.Requests;
        var m = await MeasureAsync((_, i, ct) => send(i, ct), requests, concurrency, limit);
        return m with { ServerMaxConcurrency = server.MaxConcurrency, ServerRequests = server.Requests - serverRequestsBefore };
    }

    /// <summary>
    /// The measurement alone, for any server: <paramref name="send"/> gets the worker's number (0 to
    /// concurrency - 1, for per-worker state such as a reused buffer) and the request's. CPU and allocations are
    /// this process's from the first request sent to the last answered; the server figures are left at 0.
    /// </summary>
    public static async Task<Measurement> MeasureAsync(Func<int, int, CancellationToken, Task> send, int requests,
        int concurrency, TimeSpan limit)
    {
        var latencies = new long[requests];
        var next = -1;
        var completed = 0;
        var errors = 0;
        string? firstError = null;
        using var cts = new CancellationTokenSource(limit);
        var token = cts.Token;

        async Task WorkerAsync(int worker)
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests && !token.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await send(worker, i, token);
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, $"{e.GetType().Name}: {e.Message}", null);
                }
                catch (Exception)
                {
                    // Past the time limit: the run stops and is marked as timed out.
                    return;
                }

                latencies[Interlocked.Increment(ref completed) - 1] = Stopwatch.GetTimestamp() - start;
            }
        }

        var workers = new Task[concurrency];
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(true);
        var started = Stopwatch.GetTimestamp();
        for (var w = 0; w < concurrency; w++)
        {
            var worker = w;
            workers[w] = Task.Run(() => WorkerAsync(worker));
        }

        await Task.WhenAll(workers);
        var wall = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;

        var done = Math.Max(completed, 1);
        Array.Sort(latencies, 0, completed);
        return new Measurement(
            Requests: completed,
            Errors: errors,
            TimedOut: token.IsCancellationRequested,
            Wall: wall,
            P50Ms: Stats.PercentileMs(latencies, completed, 50),
            P99Ms: Stats.PercentileMs(latencies, completed, 99),
            CpuUsPerRequest: cpu.TotalMicroseconds / done,
            AllocatedBytesPerRequest: (double)allocated / done,
            ServerMaxConcurrency: 0,
            ServerRequests: 0,
            FirstError: firstError);
    }

    /// <summary>Warms a client up (JIT, connections), then gives the tiered JIT time to settle.</summary>
    public static async Task WarmUpAsync(BenchServer server, IBenchClient client, string path, int requests,
        int concurrency, BenchSettings settings)
    {
        var urls = UniqueUrls(path, requests);
        var m = await RunAsync(server, (i, ct) => client.GetAsync(urls[i], ct), requests, concurrency,
            settings.MeasurementLimit);
        if (m.Errors > 0 || m.TimedOut)
        {
            throw new InvalidOperationException(
                $"warm-up of {client.Name} failed: {m.Errors} errors, timed out: {m.TimedOut}, first: {m.FirstError}");
        }

        await Task.Delay(settings.JitSettle);
    }

    /// <summary>
    /// <c>path?n=0</c> … <c>path?n=count-1</c>, made before a measurement so it does not pay for them. Every
    /// request of a run has its own URL: NetActors deduplicates identical GETs that overlap in time (on by
    /// default), and with one URL for all it would send fewer requests than the others and seem faster.
    /// </summary>
    public static string[] UniqueUrls(string path, int count)
    {
        var urls = new string[count];
        for (var i = 0; i < count; i++)
        {
            urls[i] = $"{path}?n={i}";
        }

        return urls;
    }
}
