namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// One runtime talking to many origins: the server listens on one port per origin (127.0.0.1 only), and
/// 10 GETs go to each origin as absolute URLs through the <c>bench</c> client, 64 at a time, spread over the
/// origins. Reports the managed memory per origin once all are done (host actors, per-origin HttpClient and
/// handler, pooled connections, and the server's side of each connection, which is in this process too) and
/// the throughput. A raw HttpClient (one handler, pools per origin) doing the same is the reference.
/// </summary>
internal sealed class ManyOriginsScenario(BenchServer server, BenchSettings settings)
{
    /// <summary>The connection cap per origin.</summary>
    public const int Cap = 6;

    /// <summary>Requests in flight at once, over all origins.</summary>
    public const int Concurrency = 64;
    private static readonly TimeSpan CloseLimit = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan IdleOriginTimeout = TimeSpan.FromSeconds(5);

    public async Task RunAsync(Report report)
    {
        var ports = server.OriginPorts;
        Console.Error.WriteLine($"many origins: {ports.Count} origins × {settings.RequestsPerOrigin} requests");

        var urls = Urls(ports, settings.RequestsPerOrigin);
        var origins = Origins(ports);
        var results = new Dictionary<string, List<OriginsRun>>
        {
            // raw first: it closes its connections when disposed, so they cannot blur the next measurement.
            [$"{BenchClients.Raw} (reference)"] = [],
            [BenchClients.NetActors] = [],
        };

        // Earlier scenarios' clients are disposed; give their connections a chance to go before memory is measured.
        var earlier = await WaitForConnectionsClosedAsync(0);
        if (earlier > 0)
        {
            Console.Error.WriteLine($"  {earlier} server connections of earlier scenarios' (disposed) clients still open");
        }

        // Round 0 is a warm-up (the JIT has not seen host creation for absolute URLs yet) and is not reported.
        for (var round = 0; round <= settings.Rounds; round++)
        {
            foreach (var name in results.Keys)
            {
                var openBefore = server.OpenConnections;
                IBenchClient client = name == BenchClients.NetActors
                    ? await StartNetActorsAsync(server, origins)
                    : new RawClient(server, Cap);
                OriginsRun result;
                try
                {
                    result = await MeasureAsync(server, client, urls, ports.Count, settings.MeasurementLimit);
                    if (client is NetActorsClient)
                    {
                        result = result with { AfterIdle = await AfterIdleAsync(result.Before, ports.Count) };
                    }
                }
                finally
                {
                    await client.DisposeAsync();
                }

                var leftOpen = await WaitForConnectionsClosedAsync(openBefore);
                if (round > 0)
                {
                    results[name].Add(result with { LeftOpen = leftOpen });
                }
            }
        }

        var section = new Section(
            $"Many origins: {ports.Count:N0} origins × {settings.RequestsPerOrigin} GET /small, concurrency {Concurrency}, cap {Cap} per origin",
            "client", "managed B/origin", "×raw", "req/s", "×raw", "connections opened", "still open 2 s after dispose",
            "B/origin after idle");
        var raw = results[$"{BenchClients.Raw} (reference)"];
        foreach (var (name, runs) in results)
        {
            var bytes = Summary.Of(runs.Select(r => r.BytesPerOrigin));
            var rps = Summary.Of(runs.Select(r => r.Rps));
            section.Row(name, bytes.Format(0), Stats.Ratio(bytes.Median, Summary.Of(raw.Select(r => r.BytesPerOrigin)).Median),
                rps.Format(0), Stats.Ratio(rps.Median, Summary.Of(raw.Select(r => r.Rps)).Median),
                Summary.Of(runs.Select(r => (double)r.Connections)).Format(0),
                Summary.Of(runs.Select(r => (double)r.LeftOpen)).Format(0),
                runs.All(r => r.AfterIdle is null) ? "" : Summary.Of(runs.Select(r => r.AfterIdle ?? double.NaN)).Format(0));
            Report.AddProblems(section, name, runs.Select(r => r.Run));
        }

        report.Add(section
            .Note("A fresh client (for netactors a fresh host and actor system) per round, measured after one request " +
                  "to the main origin; bytes are GC.GetTotalMemory(true) after minus before, divided by the origins.")
            .Note("The server runs in this process, so its side of every open connection is in the figure too; " +
                  "the raw reference pays that as well.")
            .Note($"after idle: netactors with idle-origin-timeout {IdleOriginTimeout.TotalSeconds:0} s; the managed heap is " +
                  "measured again (full GCs, polled up to 60 s) until it is back within 10 % of the figure before the " +
                  "run, as (after minus before) / origins; the idle origins' host actors, handlers, settings and gauge " +
                  "series are gone by then.")
            .Note("still open: server-side connections of the client left open 2 s after it was disposed (full GCs " +
                  "run while waiting); such leftovers can close during a later round and blur its memory figure."));
    }

    /// <summary>
    /// <paramref name="requestsPerOrigin"/> absolute URLs per port, round-robin over the origins so that requests
    /// in flight at once go to different origins; every one its own URL.
    /// </summary>
    public static string[] Urls(IReadOnlyList<int> ports, int requestsPerOrigin)
    {
        var urls = new string[ports.Count * requestsPerOrigin];
        for (var i = 0; i < urls.Length; i++)
        {
            urls[i] = $"http://127.0.0.1:{ports[i % ports.Count]}/small?n={i}";
        }

        return urls;
    }

    /// <summary>The bearer token goes only to its realm's origins: list them all, as an app calling them would.</summary>
    public static string[] Origins(IReadOnlyList<int> ports) => ports.Select(p => $"http://127.0.0.1:{p}").ToArray();

    /// <summary>The NetActors client of this scenario: idle origins removed after a while, the realm covering all.</summary>
    public static Task<NetActorsClient> StartNetActorsAsync(IUpstream server, string[] origins) =>
        NetActorsClient.StartAsync(server, Cap, c => c
                .Set("idle-origin-timeout", $"{IdleOriginTimeout.TotalSeconds:0}s")
                .Set("pooled-connection-idle-timeout", "1s"),
            configureAuth: a => a.WithOrigins(origins));

    /// <summary>
    /// One request to the main origin, then the managed heap before and after all <paramref name="urls"/> (64 at a
    /// time), per origin.
    /// </summary>
    public static async Task<OriginsRun> MeasureAsync(IUpstream server, IBenchClient client, string[] urls, int origins,
        TimeSpan limit)
    {
        await client.GetAsync(server.BaseAddress + "small", CancellationToken.None);
        Stats.FullGc();
        var before = GC.GetTotalMemory(true);
        var countersBefore = await server.CountersAsync();
        await server.ResetMaxConcurrencyAsync();
        var run = await LoadRunner.MeasureAsync((_, i, ct) => client.GetAsync(urls[i], ct), urls.Length, Concurrency, limit);
        var countersAfter = await server.CountersAsync();
        var connections = countersAfter.AcceptedConnections - countersBefore.AcceptedConnections;
        run = run with
        {
            ServerRequests = countersAfter.Requests - countersBefore.Requests,
            ServerMaxConcurrency = UpstreamCounters.Required(countersAfter.MaxConcurrency, "its concurrency"),
        };
        Stats.FullGc();
        var after = GC.GetTotalMemory(true);
        return new OriginsRun((double)(after - before) / origins, run.RequestsPerSecond, connections, 0, run, before);
    }

    /// <summary>
    /// After the run, waits for the idle origins to be removed and for the heap to come back within 10 % of
    /// <paramref name="before"/> (bounded), and returns what is left per origin.
    /// </summary>
    internal static async Task<double> AfterIdleAsync(long before, int origins)
    {
        var deadline = DateTime.UtcNow + IdleOriginTimeout + TimeSpan.FromSeconds(60);
        long now;
        do
        {
            await Task.Delay(500);
            Stats.FullGc();
            now = GC.GetTotalMemory(true);
        }
        while (now > before * 1.1 && DateTime.UtcNow < deadline);

        return (double)(now - before) / origins;
    }

    /// <summary>
    /// Waits (bounded) until the server's connections are back to what they were before the client existed, so
    /// the next client's memory figure does not include this one's leftovers, and returns how many are left.
    /// A collection runs between polls: a handler nobody disposed closes its sockets only when it is collected.
    /// </summary>
    private async Task<int> WaitForConnectionsClosedAsync(int openBefore)
    {
        var deadline = DateTime.UtcNow + CloseLimit;
        var polls = 0;
        while (server.OpenConnections > openBefore && DateTime.UtcNow < deadline)
        {
            if (++polls % 10 == 0)
            {
                Stats.FullGc();
            }

            await Task.Delay(25);
        }

        return Math.Max(0, server.OpenConnections - openBefore);
    }

    /// <summary>One client's round: memory per origin, throughput, connections opened and left open.</summary>
    internal sealed record OriginsRun(double BytesPerOrigin, double Rps, long Connections, int LeftOpen, Measurement Run,
        long Before, double? AfterIdle = null);
}
