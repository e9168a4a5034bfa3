namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// Small GETs with a fixed number of workers, each sending one request at a time: concurrency 6 at cap 6 and
/// concurrency 64 at cap 64. The three clients are warmed up, then measured interleaved, round after round.
/// </summary>
internal sealed class ThroughputScenario(BenchServer server, BenchSettings settings)
{
    private static readonly (int Concurrency, int Cap)[] Configurations = [(6, 6), (64, 64)];

    public async Task RunAsync(Report report)
    {
        foreach (var (concurrency, cap) in Configurations)
        {
            Console.Error.WriteLine($"throughput: concurrency {concurrency}, cap {cap}");
            var clients = await BenchClients.CreateAllAsync(server, cap);
            try
            {
                foreach (var client in clients)
                {
                    await LoadRunner.WarmUpAsync(server, client, "small", settings.WarmupRequests, concurrency, settings);
                }

                var urls = LoadRunner.UniqueUrls("small", settings.ThroughputRequests);
                var results = clients.ToDictionary(c => c.Name, _ => new List<Measurement>());
                for (var round = 0; round < settings.Rounds; round++)
                {
                    foreach (var client in clients)
                    {
                        results[client.Name].Add(await LoadRunner.RunAsync(server,
                            (i, ct) => client.GetAsync(urls[i], ct), settings.ThroughputRequests, concurrency,
                            settings.MeasurementLimit));
                    }
                }

                report.Add(Report.ClientComparison(
                        $"Throughput: {settings.ThroughputRequests:N0} × GET /small, concurrency {concurrency}, cap {cap}",
                        results)
                    .Note($"median [min–max] over {settings.Rounds} rounds; ×raw is the ratio of medians. CPU and " +
                          "allocations are the whole process's, the in-process Kestrel server included.")
                    .Note("Every request carries the bench session's bearer token, checked by the server; each has " +
                          "its own URL (?n=i), so NetActors' deduplication of overlapping identical GETs never applies."));
            }
            finally
            {
                await BenchClients.DisposeAllAsync(clients);
            }
        }
    }
}
