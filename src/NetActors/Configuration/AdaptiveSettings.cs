namespace NetActors.Configuration;

/// <summary>How an adaptive concurrency limit reads the server's signals.</summary>
public enum AdaptiveAlgorithm
{
    /// <summary>
    /// Latency against its baseline, the latency measured at <c>min-limit</c> (Netflix's Gradient2, with Envoy's
    /// baseline): the limit shrinks as the measured attempt latency rises above <c>rtt-tolerance</c> times the
    /// baseline, and grows by a small queue allowance while it does not; a window with
    /// drops (a timeout, 503, 429 or reset) also backs it off.
    /// </summary>
    Gradient,

    /// <summary>Drops only: additive increase while healthy, multiplicative decrease on a timeout, 503, 429 or reset.</summary>
    Aimd,
}

/// <summary>
/// An origin's adaptive concurrency limit (<c>adaptive-concurrency.*</c>): how many of its requests may be on the
/// wire, recomputed once per sampling window, always between <see cref="MinLimit"/> and <c>max-connections</c>.
/// </summary>
public sealed record AdaptiveConcurrencySettings
{
    /// <summary>Whether the limit adapts; off: <c>max-connections</c> is the limit.</summary>
    public bool Enabled { get; init; } = ReferenceDefaults.Bool("client-defaults.adaptive-concurrency.enabled");

    /// <summary>The algorithm.</summary>
    public AdaptiveAlgorithm Algorithm { get; init; } =
        ParseAlgorithm(ReferenceDefaults.String("client-defaults.adaptive-concurrency.algorithm")) ?? AdaptiveAlgorithm.Gradient;

    /// <summary>The lowest limit.</summary>
    public int MinLimit { get; init; } = ReferenceDefaults.Int("client-defaults.adaptive-concurrency.min-limit");

    /// <summary>The highest limit; 0 means <c>max-connections</c> (never above it).</summary>
    public int MaxLimit { get; init; } = ReferenceDefaults.Int("client-defaults.adaptive-concurrency.max-limit");

    /// <summary>The limit to start from; 0 means the smaller of 10 and the highest limit.</summary>
    public int InitialLimit { get; init; } = ReferenceDefaults.Int("client-defaults.adaptive-concurrency.initial-limit");

    /// <summary>The shortest sampling window: the limit is recomputed at most once per window.</summary>
    public TimeSpan Window { get; init; } = ReferenceDefaults.Duration("client-defaults.adaptive-concurrency.window");

    /// <summary>Attempts a window must hold before the limit is recomputed.</summary>
    public int MinWindowSamples { get; init; } = ReferenceDefaults.Int("client-defaults.adaptive-concurrency.min-window-samples");

    /// <summary>Gradient: how much of each window's new estimate is taken (0..1].</summary>
    public double Smoothing { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-concurrency.smoothing");

    /// <summary>Gradient: how much latency above the baseline is tolerated before the limit shrinks (≥ 1).</summary>
    public double RttTolerance { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-concurrency.rtt-tolerance");

    /// <summary>Gradient: requests added to the estimate per window, the room to probe for more capacity.</summary>
    public double QueueAllowance { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-concurrency.queue-allowance");

    /// <summary>Gradient: how often one window runs at <see cref="MinLimit"/> to measure the unloaded latency (the baseline).</summary>
    public TimeSpan BaselineProbeInterval { get; init; } = ReferenceDefaults.Duration("client-defaults.adaptive-concurrency.baseline-probe-interval");

    /// <summary>The factor a window with drops multiplies the limit by (0..1).</summary>
    public double BackoffRatio { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-concurrency.backoff-ratio");

    /// <summary>AIMD: requests added to the limit per healthy window that used at least half of it.</summary>
    public int Increase { get; init; } = ReferenceDefaults.Int("client-defaults.adaptive-concurrency.increase");

    /// <summary>A change of the limit by more than this fraction (since the last one reported) is logged and published.</summary>
    public double EventStep { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-concurrency.event-step");

    /// <summary>The highest limit for an origin capped at <paramref name="maxConnections"/>.</summary>
    public int EffectiveMax(int maxConnections) => MaxLimit > 0 ? Math.Min(MaxLimit, maxConnections) : maxConnections;

    /// <summary>The limit an origin capped at <paramref name="maxConnections"/> starts from.</summary>
    public int EffectiveInitial(int maxConnections) =>
        InitialLimit > 0 ? InitialLimit : Math.Max(MinLimit, Math.Min(10, EffectiveMax(maxConnections)));

    internal static AdaptiveAlgorithm? ParseAlgorithm(string text) => text switch
    {
        "gradient" => AdaptiveAlgorithm.Gradient,
        "aimd" => AdaptiveAlgorithm.Aimd,
        _ => null,
    };

    internal static AdaptiveConcurrencySettings Create(HoconReader r, int maxConnections)
    {
        const string p = "adaptive-concurrency.";
        var algorithm = r.String(p + "algorithm");
        var settings = new AdaptiveConcurrencySettings
        {
            Enabled = r.Bool(p + "enabled"),
            Algorithm = ParseAlgorithm(algorithm) ?? throw r.Invalid(p + "algorithm", $"'{algorithm}' is not gradient or aimd."),
            MinLimit = r.Int(p + "min-limit", 1, 10_000),
            MaxLimit = r.Int(p + "max-limit", 0, 10_000),
            InitialLimit = r.Int(p + "initial-limit", 0, 10_000),
            Window = r.Duration(p + "window"),
            MinWindowSamples = r.Int(p + "min-window-samples", 1, 1_000_000),
            Smoothing = r.Double(p + "smoothing", 0.01, 1),
            RttTolerance = r.Double(p + "rtt-tolerance", 1, 10),
            QueueAllowance = r.Double(p + "queue-allowance", 0, 1_000),
            BaselineProbeInterval = r.Duration(p + "baseline-probe-interval"),
            BackoffRatio = r.Double(p + "backoff-ratio", 0.1, 0.99),
            Increase = r.Int(p + "increase", 1, 1_000),
            EventStep = r.Double(p + "event-step", 0, 10),
        };

        if (!settings.Enabled)
        {
            return settings;
        }

        // The limit lives between min-limit and max-connections: max-connections keeps its meaning as the hard cap.
        if (settings.MaxLimit > maxConnections)
        {
            throw r.Invalid(p + "max-limit", $"{settings.MaxLimit} is above max-connections ({maxConnections}); the adaptive limit never exceeds the hard cap.");
        }

        var max = settings.EffectiveMax(maxConnections);
        if (settings.MinLimit > max)
        {
            throw r.Invalid(p + "min-limit", $"{settings.MinLimit} is above the highest limit ({max}: max-limit, or max-connections when max-limit is 0).");
        }

        if (settings.InitialLimit > 0 && (settings.InitialLimit < settings.MinLimit || settings.InitialLimit > max))
        {
            throw r.Invalid(p + "initial-limit", $"{settings.InitialLimit} is outside [min-limit {settings.MinLimit}, {max}].");
        }

        return settings;
    }
}

/// <summary>
/// An origin's adaptive rate (<c>adaptive-rate.*</c>): the token bucket's rate falls multiplicatively when the
/// server says it is over its rate (a 429, or a 503 with <c>Retry-After</c>), at most once per window, and rises
/// additively after each window of successes, within [<see cref="MinRate"/>, <see cref="MaxRate"/>]. In cluster
/// mode the adjusted rate is the fleet's: each member takes its share of it.
/// </summary>
public sealed record AdaptiveRateSettings
{
    /// <summary>Whether the rate adapts.</summary>
    public bool Enabled { get; init; } = ReferenceDefaults.Bool("client-defaults.adaptive-rate.enabled");

    /// <summary>The lowest rate, in permits per second.</summary>
    public double MinRate { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-rate.min-rate");

    /// <summary>The highest rate; 0 means <c>rate-limit.permits-per-second</c>.</summary>
    public double MaxRate { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-rate.max-rate");

    /// <summary>The window: at most one decrease and one increase per window.</summary>
    public TimeSpan Window { get; init; } = ReferenceDefaults.Duration("client-defaults.adaptive-rate.window");

    /// <summary>The factor a window with a rate signal multiplies the rate by (0..1).</summary>
    public double DecreaseFactor { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-rate.decrease-factor");

    /// <summary>Permits per second added after a window of successes without a rate signal.</summary>
    public double IncreaseStep { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-rate.increase-step");

    /// <summary>A change of the rate by more than this fraction (since the last one reported) is logged and published.</summary>
    public double EventStep { get; init; } = ReferenceDefaults.Double("client-defaults.adaptive-rate.event-step");

    /// <summary>The highest rate for an origin whose configured rate is <paramref name="configured"/>.</summary>
    public double EffectiveMax(double configured) => MaxRate > 0 ? MaxRate : configured;

    /// <summary>The rate to start from: the configured one when set, else the highest.</summary>
    public double EffectiveInitial(double configured) => configured > 0 ? configured : EffectiveMax(configured);

    internal static AdaptiveRateSettings Create(HoconReader r, double configured)
    {
        const string p = "adaptive-rate.";
        var settings = new AdaptiveRateSettings
        {
            Enabled = r.Bool(p + "enabled"),
            MinRate = r.Double(p + "min-rate", 0.01, 1_000_000),
            MaxRate = r.Double(p + "max-rate", 0, 1_000_000),
            Window = r.Duration(p + "window"),
            DecreaseFactor = r.Double(p + "decrease-factor", 0.1, 0.99),
            IncreaseStep = r.Double(p + "increase-step", 0.001, 1_000_000),
            EventStep = r.Double(p + "event-step", 0, 10),
        };

        if (!settings.Enabled)
        {
            return settings;
        }

        var max = settings.EffectiveMax(configured);
        if (max <= 0)
        {
            throw r.Invalid(p + "max-rate", "must be set (or rate-limit.permits-per-second) when adaptive-rate is enabled.");
        }

        if (settings.MinRate > max)
        {
            throw r.Invalid(p + "min-rate", $"{settings.MinRate} is above the highest rate ({max}).");
        }

        if (configured > max)
        {
            throw r.Invalid(p + "max-rate", $"{settings.MaxRate} is below rate-limit.permits-per-second ({configured}), the rate it starts from.");
        }

        if (configured > 0 && configured < settings.MinRate)
        {
            throw r.Invalid(p + "min-rate", $"{settings.MinRate} is above rate-limit.permits-per-second ({configured}), the rate it starts from.");
        }

        return settings;
    }
}
