namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// Many more callers than connections: GET /slow (20 ms) at concurrency 64 with cap 6. The server must never
/// see more than 6 requests at once, and the wall time should approach N × 20 ms / cap.
/// </summary>
internal sealed class CapFidelityScenario(BenchServer server, BenchSettings settings)
{
    private const int Cap = 6;
    private const int Concurrency = 64;

    public async Task RunAsync(Report report)
    {
        Console.Error.WriteLine($"cap fidelity: {settings.CapFidelityRequests} × /slow, concurrency {Concurrency}, cap {Cap}");
        IBenchClient[] clients =
        [
            new RawClient(server, Cap),
            await NetActorsClient.StartAsync(server, Cap),
        ];
        try
        {
            foreach (var client in clients)
            {
                // The JIT is warm by now; this opens the connections.
                await LoadRunner.WarmUpAsync(server, client, "slow", Cap * 4, Concurrency, settings);
            }

            var urls = LoadRunner.UniqueUrls("slow", settings.CapFidelityRequests);
            var results = clients.ToDictionary(c => c.Name, _ => new List<Measurement>());
            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var client in clients)
                {
                    results[client.Name].Add(await LoadRunner.RunAsync(server,
                        (i, ct) => client.GetAsync(urls[i], ct), settings.CapFidelityRequests, Concurrency,
                        settings.MeasurementLimit));
                }
            }

            var idealMs = settings.CapFidelityRequests * BenchSettings.SlowDelay.TotalMilliseconds / Cap;
            var section = new Section(
                $"Cap fidelity: {settings.CapFidelityRequests:N0} × GET /slow (20 ms), concurrency {Concurrency}, cap {Cap}",
                "client", "server max conc", "verdict", "wall ms", "ideal ms", "wall/ideal", "p50 ms", "p99 ms");
            foreach (var (client, runs) in results)
            {
                var max = runs.Max(m => m.ServerMaxConcurrency);
                var wall = Summary.Of(runs.Select(m => m.Wall.TotalMilliseconds));
                section.Row(client, Stats.Number(max, 0),
                    max == Cap ? "= cap" : max > Cap ? "OVER CAP" : "under cap",
                    wall.Format(0), Stats.Number(idealMs, 0), Stats.Number(wall.Median / idealMs, 2),
                    Summary.Of(runs.Select(m => m.P50Ms)).Format(1), Summary.Of(runs.Select(m => m.P99Ms)).Format(1));
                Report.AddProblems(section, client, runs);
            }

            report.Add(section.Note($"server max conc is the maximum over {settings.Rounds} rounds; wall is median [min–max]."));
        }
        finally
        {
            await BenchClients.DisposeAllAsync(clients);
        }
    }
}
