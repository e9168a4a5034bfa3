namespace NetActors.Benchmarks;

/// <summary>The sizes of one run: quick (a smoke run, under a minute on 2 cores) or full.</summary>
internal sealed record BenchSettings(
    string Mode,
    int ThroughputRequests,
    int WarmupRequests,
    int Rounds,
    int CapFidelityRequests,
    int QueuedRequests,
    int Origins,
    int RequestsPerOrigin,
    TimeSpan MeasurementLimit)
{
    /// <summary>Delay of the /work endpoint (the overload scenario's server).</summary>
    public static readonly TimeSpan WorkDelay = TimeSpan.FromMilliseconds(2);

    /// <summary>How long each overload round runs.</summary>
    public TimeSpan OverloadDuration => Mode == "quick" ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(5);

    /// <summary>Delay of the /slow endpoint.</summary>
    public static readonly TimeSpan SlowDelay = TimeSpan.FromMilliseconds(20);

    public static BenchSettings Quick { get; } = new(
        Mode: "quick",
        ThroughputRequests: 5_000,
        WarmupRequests: 2_000,
        Rounds: 2,
        CapFidelityRequests: 300,
        QueuedRequests: 10_000,
        Origins: 100,
        RequestsPerOrigin: 10,
        MeasurementLimit: TimeSpan.FromSeconds(30));

    public static BenchSettings Full { get; } = new(
        Mode: "full",
        ThroughputRequests: 50_000,
        WarmupRequests: 20_000,
        Rounds: 5,
        CapFidelityRequests: 1_500,
        QueuedRequests: 100_000,
        Origins: 1_000,
        RequestsPerOrigin: 10,
        MeasurementLimit: TimeSpan.FromMinutes(5));

    /// <summary>Lets the tiered JIT finish its background recompilation after a warm-up.</summary>
    public TimeSpan JitSettle => Mode == "quick" ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(1);
}
