using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// A diagnostic, not a measured scenario (<c>-- --alloc-profile</c>): runs raw and NetActors at 6/6 with the
/// runtime's allocation-tick events on (one event per ~100 KB allocated, naming the type of the object that
/// crossed the mark, so types are sampled in proportion to their bytes) and prints the estimated bytes per
/// request of each type, NetActors against the typical-app raw and the strict benchmark's lean raw. The in-process server's allocations are in both columns.
/// </summary>
internal sealed class AllocationProfile(BenchServer server, BenchSettings settings)
{
    private const int Concurrency = 6;
    private const int Requests = 200_000;
    private const string NetUri = "netactors-uri";

    public async Task RunAsync()
    {
        var clients = await BenchClients.CreateAllAsync(server, Concurrency);
        try
        {
            var profiles = new Dictionary<string, (Dictionary<string, double> ByType, double Total)>();
            foreach (var client in clients.Where(c => c.Name != BenchClients.Resilience))
            {
                await LoadRunner.WarmUpAsync(server, client, "small", settings.WarmupRequests, Concurrency, settings);
                var urls = LoadRunner.UniqueUrls("small", Requests);
                using var listener = new AllocationListener();
                var m = await LoadRunner.RunAsync(server, (i, ct) => client.GetAsync(urls[i], ct), Requests,
                    Concurrency, settings.MeasurementLimit);
                listener.Stop();
                profiles[client.Name] = (listener.BytesByType.ToDictionary(p => p.Key, p => (double)p.Value / m.Requests),
                    m.AllocatedBytesPerRequest);
            }

            // The strict benchmark's lean raw: absolute Uris and one body buffer per caller, made before the measurement.
            await using (var lean = new Strict.LeanRawClient(server, Concurrency))
            {
                var uris = LoadRunner.UniqueUrls("small", Requests).Select(u => new Uri(server.BaseAddress, u)).ToArray();
                var buffers = new ThreadLocal<byte[]>(() => new byte[Strict.LeanRawClient.BufferSize]);
                await LoadRunner.RunAsync(server, (i, ct) => lean.GetAsync(uris[i], buffers.Value!, ct), settings.WarmupRequests,
                    Concurrency, settings.MeasurementLimit);
                await Task.Delay(settings.JitSettle);
                using var listener = new AllocationListener();
                var m = await LoadRunner.RunAsync(server, (i, ct) => lean.GetAsync(uris[i], buffers.Value!, ct), Requests,
                    Concurrency, settings.MeasurementLimit);
                listener.Stop();
                profiles[lean.Name] = (listener.BytesByType.ToDictionary(p => p.Key, p => (double)p.Value / m.Requests),
                    m.AllocatedBytesPerRequest);
            }

            // NetActors as the strict benchmark sends it: the same absolute Uris as lean raw.
            var netClient = (NetActorsClient)clients.Single(c => c.Name == BenchClients.NetActors);
            {
                var uris = LoadRunner.UniqueUrls("small", Requests).Select(u => new Uri(server.BaseAddress, u)).ToArray();
                using var listener = new AllocationListener();
                var m = await LoadRunner.RunAsync(server, (i, ct) => netClient.GetAsync(uris[i], ct), Requests,
                    Concurrency, settings.MeasurementLimit);
                listener.Stop();
                profiles[NetUri] = (listener.BytesByType.ToDictionary(p => p.Key, p => (double)p.Value / m.Requests),
                    m.AllocatedBytesPerRequest);
            }

            var raw = profiles[BenchClients.Raw].ByType;
            var leanRaw = profiles[Strict.StrictClients.LeanRaw].ByType;
            var net = profiles[BenchClients.NetActors].ByType;
            var netUri = profiles[NetUri].ByType;
            Console.WriteLine($"allocated B/request (exact): raw {profiles[BenchClients.Raw].Total:0}, " +
                              $"lean raw {profiles[Strict.StrictClients.LeanRaw].Total:0}, " +
                              $"netactors {profiles[BenchClients.NetActors].Total:0} (relative URLs), " +
                              $"{profiles[NetUri].Total:0} (absolute Uris, as lean raw)");
            Console.WriteLine("netactors: relative URLs, against raw; uri: NetActors with absolute Uris, against lean raw");
            Console.WriteLine($"{"type",-72} {"raw",6} {"netact",6} {"-raw",6} {"lean",6} {"uri",6} {"-lean",6}");
            foreach (var type in raw.Keys.Union(net.Keys).Union(leanRaw.Keys).Union(netUri.Keys)
                         .OrderByDescending(t => Math.Abs(netUri.GetValueOrDefault(t) - leanRaw.GetValueOrDefault(t))).Take(60))
            {
                var r = raw.GetValueOrDefault(type);
                var n = net.GetValueOrDefault(type);
                var l = leanRaw.GetValueOrDefault(type);
                var u = netUri.GetValueOrDefault(type);
                Console.WriteLine($"{Trim(type),-72} {r,6:0} {n,6:0} {n - r,6:0} {l,6:0} {u,6:0} {u - l,6:0}");
            }
        }
        finally
        {
            await BenchClients.DisposeAllAsync(clients);
        }
    }

    /// <summary>
    /// <c>-- --load &lt;client&gt; &lt;concurrency&gt;</c>: only load, for an outside profiler (dotnet-trace): one client
    /// (raw, resilience or netactors) at the given concurrency and cap, warmed up, then 200,000 requests.
    /// </summary>
    public async Task LoadAsync(string name, int concurrency)
    {
        var clients = await BenchClients.CreateAllAsync(server, concurrency);
        try
        {
            var client = clients.Single(c => c.Name == name);
            await LoadRunner.WarmUpAsync(server, client, "small", settings.WarmupRequests, concurrency, settings);
            var urls = LoadRunner.UniqueUrls("small", Requests);
            var m = await LoadRunner.RunAsync(server, (i, ct) => client.GetAsync(urls[i], ct), Requests, concurrency,
                settings.MeasurementLimit);
            Console.WriteLine($"{name} {concurrency}/{concurrency}: {m.RequestsPerSecond:0} req/s, " +
                              $"{m.CpuUsPerRequest:0.0} µs CPU/req, {m.AllocatedBytesPerRequest:0} B/req, {m.Errors} errors");
        }
        finally
        {
            await BenchClients.DisposeAllAsync(clients);
        }
    }

    /// <summary>
    /// <c>-- --compare &lt;concurrency&gt; [--variant &lt;hocon&gt;]</c>: raw against NetActors only, interleaved for 5 rounds (or <c>--rounds</c>) of 100,000
    /// requests, printing each round and the ratios of the medians (a quicker check than the full throughput
    /// scenario while working on the hot path).
    /// </summary>
    /// <param name="concurrency">Concurrency and cap.</param>
    /// <param name="variant">HOCON for a second NetActors client ("netactors-b"), measured in the same rounds (an A/B test).</param>
    /// <param name="rounds">Rounds of each client, interleaved.</param>
    public async Task CompareAsync(int concurrency, string? variant, int rounds)
    {
        var clients = (await BenchClients.CreateAllAsync(server, concurrency)).ToList();
        if (variant is not null)
        {
            clients.Add(await NetActorsClient.StartAsync(server, concurrency, hocon: variant, name: "netactors-b"));
        }

        try
        {
            var compared = clients.Where(c => c.Name != BenchClients.Resilience).ToList();
            foreach (var client in compared)
            {
                await LoadRunner.WarmUpAsync(server, client, "small", settings.WarmupRequests, concurrency, settings);
            }

            var urls = LoadRunner.UniqueUrls("small", Requests / 4);
            var results = compared.ToDictionary(c => c.Name, _ => new List<Measurement>());
            for (var round = 0; round < rounds; round++)
            {
                foreach (var client in compared)
                {
                    var m = await LoadRunner.RunAsync(server, (i, ct) => client.GetAsync(urls[i], ct), urls.Length,
                        concurrency, settings.MeasurementLimit);
                    results[client.Name].Add(m);
                    Console.WriteLine($"  {client.Name,-10} {m.RequestsPerSecond,8:0} req/s {m.CpuUsPerRequest,6:0.0} µs " +
                                      $"{m.AllocatedBytesPerRequest,6:0} B  p99 {m.P99Ms:0.00} ms");
                }
            }

            double Median(string name, Func<Measurement, double> f) => Summary.Of(results[name].Select(f)).Median;
            var raw = BenchClients.Raw;
            foreach (var net in compared.Select(c => c.Name).Where(n => n != raw))
            {
                Console.WriteLine($"{concurrency}/{concurrency} {net}: req/s ×{Median(net, m => m.RequestsPerSecond) / Median(raw, m => m.RequestsPerSecond):0.00}, " +
                                  $"CPU {Median(net, m => m.CpuUsPerRequest) - Median(raw, m => m.CpuUsPerRequest):+0.0;-0.0} µs, " +
                                  $"alloc {Median(net, m => m.AllocatedBytesPerRequest) - Median(raw, m => m.AllocatedBytesPerRequest):+0;-0} B, " +
                                  $"p99 ×{Median(net, m => m.P99Ms) / Median(raw, m => m.P99Ms):0.00}");
            }
        }
        finally
        {
            await BenchClients.DisposeAllAsync(clients);
        }
    }

    private static string Trim(string type) => type.Length <= 72 ? type : type[..69] + "...";

    /// <summary>Collects GCAllocationTick events: bytes since the previous tick, by the type that crossed it.</summary>
    private sealed class AllocationListener : EventListener
    {
        private const EventKeywords GcKeyword = (EventKeywords)0x1;
        private volatile bool _stopped;

        public ConcurrentDictionary<string, long> BytesByType { get; } = new();

        public void Stop() => _stopped = true;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, GcKeyword);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (_stopped || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) ||
                e.PayloadNames is null)
            {
                return;
            }

            var amount = Convert.ToInt64(e.Payload![e.PayloadNames.IndexOf("AllocationAmount64")]);
            var type = e.Payload[e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            BytesByType.AddOrUpdate(type, amount, (_, v) => v + amount);
        }
    }
}
