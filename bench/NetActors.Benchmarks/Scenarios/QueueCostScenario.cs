using System.Diagnostics;
using NetActors.Errors;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// What a queued request costs. With the cap at 1, one request is held at /block; then many more are sent
/// without awaiting them, so all of them wait in the origin's queue. The managed heap is measured (after a
/// full GC) before and after they are queued; then the gate is released and all of them are awaited.
/// </summary>
internal sealed class QueueCostScenario(BenchServer server, BenchSettings settings)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(30);

    public async Task RunAsync(Report report)
    {
        var queued = settings.QueuedRequests;
        Console.Error.WriteLine($"queue cost: {queued} queued requests at cap 1");
        await using var client = await NetActorsClient.StartAsync(server, cap: 1, c => c
            .WithQueueCapacity(Math.Max(200_000, queued * 2))
            .WithTotalTimeout(RequestTimeout)
            .WithResponseTimeout(RequestTimeout));
        await LoadRunner.WarmUpAsync(server, client, "small", 200, 4, settings);

        var bytesPerQueued = new List<double>();
        var enqueueUs = new List<double>();
        var drainRps = new List<double>();
        var maxConcurrency = 0;
        for (var round = 0; round < settings.Rounds; round++)
        {
            var (bytes, enqueue, drain, max) = await RoundAsync(client.Net, queued);
            bytesPerQueued.Add(bytes);
            enqueueUs.Add(enqueue);
            drainRps.Add(drain);
            maxConcurrency = Math.Max(maxConcurrency, max);
        }

        report.Add(new Section($"Queue cost (netactors): {queued:N0} requests queued behind 1 blocked request, cap 1",
                "client", "managed B/queued request", "µs per SendAsync (enqueue)", "drain req/s (cap 1)", "server max conc")
            .Row(BenchClients.NetActors, Summary.Of(bytesPerQueued).Format(0), Summary.Of(enqueueUs).Format(2),
                Summary.Of(drainRps).Format(0), Stats.Number(maxConcurrency, 0))
            .Note("Bytes: GC.GetTotalMemory(true) after a full GC, after minus before, divided by the queued requests; " +
                  "it includes what the caller holds (the NetRequest and the Task), not the URL strings (made before).")
            .Note("Queued requests are known to be admitted when a later request with an invalid header, which the " +
                  "host actor rejects, comes back failed (messages from one sender stay in order)."));
    }

    private async Task<(double Bytes, double EnqueueUs, double DrainRps, int MaxConcurrency)> RoundAsync(
        INetClient net, int queued)
    {
        server.ResetMaxConcurrency();
        var arrived = server.ArmBlockGate();
        var blocker = net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, "block"));
        await arrived.WaitAsync(StepLimit);

        // Own URLs, made before the measurement: identical GETs would follow the first one (deduplication).
        var urls = LoadRunner.UniqueUrls("small", queued);
        var tasks = new Task<NetResponse>[queued];
        Stats.FullGc();
        var before = GC.GetTotalMemory(true);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < queued; i++)
        {
            tasks[i] = net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, urls[i]));
        }

        var enqueue = Stopwatch.GetElapsedTime(started);
        await AllAdmittedAsync(net);
        Stats.FullGc();
        var after = GC.GetTotalMemory(true);

        started = Stopwatch.GetTimestamp();
        server.ReleaseBlockGate();
        await blocker.WaitAsync(StepLimit);
        await Task.WhenAll(tasks).WaitAsync(settings.MeasurementLimit);
        var drain = Stopwatch.GetElapsedTime(started);
        GC.KeepAlive(tasks);
        GC.KeepAlive(urls);

        return ((double)(after - before) / queued, enqueue.TotalMicroseconds / queued, queued / drain.TotalSeconds,
            server.MaxConcurrency);
    }

    /// <summary>
    /// Sends a request that the origin's host actor rejects (a header with a line break) and waits for its
    /// failure: by then the host actor has admitted every request sent before it.
    /// </summary>
    private static async Task AllAdmittedAsync(INetClient net)
    {
        try
        {
            await net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, "small").WithHeader("X-Bench-Sentinel", "a\nb"))
                .WaitAsync(StepLimit);
            throw new InvalidOperationException("the sentinel request with an invalid header was not rejected.");
        }
        catch (InvalidRequestException)
        {
            // Expected: everything sent before it is in the queue now.
        }
    }
}
