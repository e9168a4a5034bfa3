using System.Globalization;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// The strict benchmark's sizes and choices, from the command line (<c>--strict [--quick] [options]</c>): see
/// <see cref="Usage"/>.
/// </summary>
internal sealed record StrictSettings(
    string Mode,
    int Rounds,
    int Requests,
    int WarmupBatch,
    int MinWarmupBatches,
    int MaxWarmupBatches,
    TimeSpan JitSettle,
    int Origins,
    TimeSpan OverloadDuration,
    double MaxOtherLoad,
    IReadOnlyList<string> Upstreams,
    IReadOnlyList<string> Scenarios,
    string? InjectFailure,
    TimeSpan WorkerLimit)
{
    public const string Usage = """
        --strict [--quick] [--rounds N] [--requests N] [--upstream inproc,process,nginx] [--scenarios 6/6,64/64,1000/6,storm,overload,origins]
                 [--max-other-load 0.10] [--worker-limit 600] [--inject-failure worker|hang|upstream]
          --quick            2 rounds of 3,000 requests, 100 origins, 1 s overload phases (a smoke run, about 2-3 minutes)
          --rounds N         interleaved rounds per scenario and upstream (default 7 full, 2 quick); targets need 5 kept
          --requests N       requests per measured run in the GET scenarios (default 50,000 full)
          --upstream LIST    where the server runs: inproc (Kestrel in the worker process), process (its own process), nginx
                             (the machine's nginx with the bench's own config, one worker, on 127.0.0.1: a static file,
                             the GET scenarios only; skipped when nginx is not installed). Default inproc,process
          --scenarios LIST   default all six
          --max-other-load F a round whose other load (CPU used by other processes, fraction of all cores) exceeds F in
                             any of its runs is dropped from the medians (default 0.10)
          --worker-limit S   seconds a worker may take before it is killed and its round marked failed (default 600)
          --inject-failure   make one worker fail (worker) or hang (hang; netactors, round 1 of the first scenario), or the
                             upstream fail at start (upstream), to see how it is reported
        """;

    public static StrictSettings Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        IReadOnlyList<string> List(string name, string fallback) =>
            (Option(name) ?? fallback).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var settings = new StrictSettings(
            Mode: quick ? "strict-quick" : "strict",
            Rounds: int.Parse(Option("--rounds") ?? (quick ? "2" : "7"), CultureInfo.InvariantCulture),
            Requests: int.Parse(Option("--requests") ?? (quick ? "3000" : "50000"), CultureInfo.InvariantCulture),
            WarmupBatch: quick ? 1_000 : 5_000,
            MinWarmupBatches: quick ? 2 : 3,
            MaxWarmupBatches: quick ? 5 : 25,
            JitSettle: quick ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(1),
            Origins: quick ? 100 : 1_000,
            OverloadDuration: quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5),
            MaxOtherLoad: double.Parse(Option("--max-other-load") ?? "0.10", CultureInfo.InvariantCulture),
            Upstreams: List("--upstream", $"{Strict.Upstreams.InProcess},{Strict.Upstreams.Process}"),
            Scenarios: List("--scenarios", string.Join(',', StrictScenario.All.Select(s => s.Key))),
            InjectFailure: Option("--inject-failure"),
            WorkerLimit: TimeSpan.FromSeconds(int.Parse(Option("--worker-limit") ?? "600", CultureInfo.InvariantCulture)));
        if (settings.InjectFailure is not (null or "worker" or "hang" or "upstream"))
        {
            throw new ArgumentException($"--inject-failure: unknown '{settings.InjectFailure}'.\n{Usage}");
        }

        foreach (var upstream in settings.Upstreams)
        {
            if (upstream is not (Strict.Upstreams.InProcess or Strict.Upstreams.Process or Strict.Upstreams.Nginx))
            {
                throw new ArgumentException($"--upstream: unknown '{upstream}'.\n{Usage}");
            }
        }

        foreach (var scenario in settings.Scenarios)
        {
            _ = StrictScenario.Find(scenario) ?? throw new ArgumentException($"--scenarios: unknown '{scenario}'.\n{Usage}");
        }

        if (settings.Rounds < 1 || settings.Requests < 1 || settings.MaxOtherLoad is < 0 or > 1)
        {
            throw new ArgumentException($"--rounds and --requests must be at least 1, --max-other-load within 0-1.\n{Usage}");
        }

        return settings;
    }

    /// <summary>The worker's arguments for one run (everything but the client and scenario).</summary>
    public IEnumerable<string> WorkerArguments() =>
    [
        "--requests", Requests.ToString(CultureInfo.InvariantCulture),
        "--warmup", $"{WarmupBatch},{MinWarmupBatches},{MaxWarmupBatches},{(int)JitSettle.TotalMilliseconds}",
        "--origins", Origins.ToString(CultureInfo.InvariantCulture),
        "--overload-ms", ((int)OverloadDuration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
    ];
}
