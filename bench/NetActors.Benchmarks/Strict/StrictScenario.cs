namespace NetActors.Benchmarks.Strict;

/// <summary>The client names of the strict benchmark.</summary>
internal static class StrictClients
{
    /// <summary><see cref="LeanRawClient"/>: the baseline of every GET scenario.</summary>
    public const string LeanRaw = "lean-raw";

    /// <summary>The typical-app <see cref="RawClient"/>, for reference when asked for (<c>--clients</c> is not needed: see the typical-app run).</summary>
    public const string TypicalRaw = "typical-raw";

    public const string NetActors = BenchClients.NetActors;

    /// <summary>The storm's baseline: <see cref="Scenarios.SingleFlightClient"/>.</summary>
    public const string SingleFlight = "single-flight";
}

/// <summary>What a target compares: NetActors ÷ baseline, NetActors − baseline, or NetActors' own figure.</summary>
internal enum TargetKind
{
    RatioAtLeast,
    RatioAtMost,
    DifferenceAtMost,
    ValueAtLeast,
    ValueAtMost,
}

/// <summary>One of the targets on one figure; <paramref name="Upstreams"/> empty means every upstream.</summary>
internal sealed record Target(string Figure, TargetKind Kind, double Limit, string[] Upstreams)
{
    public string Text => Kind switch
    {
        TargetKind.RatioAtLeast => $"≥ {Limit:0.00} × baseline",
        TargetKind.RatioAtMost => $"≤ {Limit:0.00} × baseline",
        TargetKind.DifferenceAtMost => $"≤ baseline + {Limit:0}",
        TargetKind.ValueAtLeast => $"≥ {Limit:#,0.##}",
        _ => $"≤ {Limit:#,0.##}",
    };

    public bool AppliesTo(string upstream) => Upstreams.Length == 0 || Upstreams.Contains(upstream);
}

/// <summary>
/// A scenario of the strict benchmark: its key on the command line, its clients (the baseline first), the figures
/// a worker reports (JSON keys and table rows alike), which upstreams it can run against and its targets.
/// </summary>
internal sealed record StrictScenario(
    string Key,
    string Title,
    string[] Clients,
    string[] Figures,
    string[] SupportedUpstreams,
    Target[] Targets,
    string Note)
{
    public const string Rps = "req/s";
    public const string P50 = "p50 ms";
    public const string P99 = "p99 ms";
    public const string Cpu = "CPU µs/req";
    public const string ServerCpu = "upstream CPU µs/req";
    public const string Alloc = "alloc B/req";
    public const string Drain = "drain ms";
    public const string MaxMs = "max ms";
    public const string Refreshes = "refresh calls";
    public const string Unauthorized = "401s served";
    public const string ServerRequests = "server requests";
    public const string Goodput50 = "goodput req/s, 50 callers";
    public const string Goodput1000 = "goodput req/s, 1,000 callers";
    public const string GoodputRatio = "goodput 1,000 ÷ 50";
    public const string RefusalsPerSecond = "refusals/s (1,000)";
    public const string OverloadedP99 = "Overloaded p99 ms";
    public const string Goodput1000Try = "goodput req/s, 1,000 callers, refusal as a value";
    public const string GoodputRatioTry = "goodput 1,000 ÷ 50, refusal as a value";
    public const string RefusalsPerSecondTry = "refusals/s (1,000), refusal as a value";
    public const string OverloadedP99Try = "Overloaded p99 ms, refusal as a value";
    public const string BytesPerOrigin = "managed B/origin";
    public const string Connections = "connections opened";

    private static readonly string[] AllUpstreams = [Upstreams.InProcess, Upstreams.Process, Upstreams.Nginx];
    private static readonly string[] KestrelUpstreams = [Upstreams.InProcess, Upstreams.Process];
    private static readonly string[] GetFigures = [Rps, P50, P99, Cpu, ServerCpu, Alloc];

    private static Target[] GetTargets() =>
    [
        new(Rps, TargetKind.RatioAtLeast, 0.97, [Upstreams.InProcess]),
        new(Rps, TargetKind.RatioAtLeast, 0.90, [Upstreams.Process, Upstreams.Nginx]),
        new(Cpu, TargetKind.DifferenceAtMost, 3, []),
        new(Alloc, TargetKind.DifferenceAtMost, 256, []),
    ];

    public static IReadOnlyList<StrictScenario> All { get; } =
    [
        new("6/6", "GET /small, 6 callers, cap 6", [StrictClients.LeanRaw, StrictClients.NetActors], GetFigures, AllUpstreams,
            GetTargets(), "Each caller sends one request at a time; every request has its own URL (?n=i)."),
        new("64/64", "GET /small, 64 callers, cap 64", [StrictClients.LeanRaw, StrictClients.NetActors], GetFigures,
            AllUpstreams, GetTargets(), "As 6/6 with 64 callers and connections."),
        new("1000/6", "GET /small, 1,000 callers over cap 6", [StrictClients.LeanRaw, StrictClients.NetActors], GetFigures,
            AllUpstreams, [],
            "1,000 callers share 6 connections: the raw handler queues them in its connection pool, NetActors in its origin queue."),
        new("storm", "401 storm: 1,000 concurrent GET /storm with an expired token, cap 6",
            [StrictClients.SingleFlight, StrictClients.NetActors],
            [Drain, P50, MaxMs, Refreshes, Unauthorized, ServerRequests, Cpu, Alloc], KestrelUpstreams,
            [new(Drain, TargetKind.RatioAtMost, 0.6, []), new(Refreshes, TargetKind.ValueAtMost, 1, [])],
            "Baseline: the hand-written single-flight refresh over raw HttpClient (Scenarios/SingleFlightClient.cs). " +
            "A worker storms until the JIT settles (no method compiled in a storm and the pause after it, 3 to 25 storms), then runs the measured one; drain is from the first request sent until all 1,000 are answered."),
        new("overload", "Overload: cap 6, 2 ms server, 50 then 1,000 callers resending at once",
            [StrictClients.LeanRaw, StrictClients.NetActors],
            [Goodput50, Goodput1000, GoodputRatio, RefusalsPerSecond, OverloadedP99, Goodput1000Try, GoodputRatioTry,
                RefusalsPerSecondTry, OverloadedP99Try, Cpu], KestrelUpstreams,
            [new(GoodputRatio, TargetKind.ValueAtLeast, 0.8, []), new(GoodputRatioTry, TargetKind.ValueAtLeast, 0.8, []),
                new(OverloadedP99, TargetKind.ValueAtMost, 1, []), new(OverloadedP99Try, TargetKind.ValueAtMost, 1, [])],
            "NetActors: queue 50, refused callers resend at once (after Task.Yield), learning of the refusal from a thrown " +
            "OverloadedException (the first rows) or from TrySendAsync's outcome (the rows \"refusal as a value\"), 5 s each. " +
            "Lean raw sits behind System.Threading.RateLimiting's ConcurrencyLimiter (6 permits, queue 50): the same admission " +
            "rule and callers, the reference for bounded admission. In the first rows its refusal is an exception the caller " +
            "catches (a faulted task, as SendAsync's), in the rows \"refusal as a value\" a failed lease."),
        new("origins", "Many origins × 10 GET /small each, 64 callers, cap 6 per origin",
            [StrictClients.LeanRaw, StrictClients.NetActors], [BytesPerOrigin, Rps, Connections], KestrelUpstreams,
            [new(BytesPerOrigin, TargetKind.ValueAtMost, 10_240, [])],
            "Managed heap after minus before (GC.GetTotalMemory(true)) divided by the origins, a fresh client after a " +
            "warm-up client on the first 100 origins. With an in-process server its side of every connection is in the figure too."),
    ];

    public static StrictScenario? Find(string key) => All.FirstOrDefault(s => s.Key == key);

    /// <summary>Decimals to show for a figure.</summary>
    public static int Decimals(string figure) => figure switch
    {
        P50 or P99 or OverloadedP99 or GoodputRatio or OverloadedP99Try or GoodputRatioTry => 2,
        Cpu or ServerCpu or Drain or MaxMs => 1,
        _ => 0,
    };

    /// <summary>(concurrency, cap) of a GET scenario ("6/6"), or null for the others.</summary>
    public (int Concurrency, int Cap)? Load =>
        Key.Split('/') is [var c, var k] && int.TryParse(c, out var concurrency) && int.TryParse(k, out var cap)
            ? (concurrency, cap)
            : null;
}
