using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>A client's retry settings (<c>retry.*</c>).</summary>
public sealed record RetrySettings
{
    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; init; } = Configuration.ReferenceDefaults.Int("client-defaults.retry.max-attempts");

    /// <summary>Delay before the first retry.</summary>
    public TimeSpan BaseDelay { get; init; } = Configuration.ReferenceDefaults.Duration("client-defaults.retry.base-delay");

    /// <summary>Growth of the delay per retry.</summary>
    public double Factor { get; init; } = Configuration.ReferenceDefaults.Double("client-defaults.retry.factor");

    /// <summary>Largest delay.</summary>
    public TimeSpan MaxDelay { get; init; } = Configuration.ReferenceDefaults.Duration("client-defaults.retry.max-delay");

    /// <summary>Up to this fraction of a delay is removed at random.</summary>
    public double Jitter { get; init; } = Configuration.ReferenceDefaults.Double("client-defaults.retry.jitter");

    /// <summary>Generate idempotency keys for POST and PATCH.</summary>
    public bool IdempotencyKeys { get; init; }

    /// <summary>The idempotency key header.</summary>
    public string IdempotencyHeader { get; init; } = Configuration.ReferenceDefaults.String("client-defaults.retry.idempotency-header");

    /// <summary>The delay before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    /// <param name="retry">1-based retry number.</param>
    /// <param name="random">A number in [0, 1) for the jitter.</param>
    public TimeSpan DelayFor(int retry, double random)
    {
        var exponential = BaseDelay.TotalMilliseconds * Math.Pow(Factor, Math.Min(retry - 1, 30));
        var capped = Math.Min(exponential, MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (1 - Jitter * random));
    }

    internal static RetrySettings Create(HoconReader r) => new()
    {
        MaxAttempts = r.Int("retry.max-attempts", 1, 100),
        BaseDelay = r.Duration("retry.base-delay"),
        Factor = r.Double("retry.factor", 1, 10),
        MaxDelay = r.Duration("retry.max-delay"),
        Jitter = r.Double("retry.jitter", 0, 1),
        IdempotencyKeys = r.Bool("retry.idempotency-keys"),
        IdempotencyHeader = r.String("retry.idempotency-header"),
    };
}

/// <summary>An origin's rate limit (<c>rate-limit.*</c>).</summary>
public sealed record RateLimitSettings
{
    /// <summary>Permits per second; 0 disables the limit.</summary>
    public double PermitsPerSecond { get; init; } = Configuration.ReferenceDefaults.Double("client-defaults.rate-limit.permits-per-second");

    /// <summary>Permits available at once after a quiet period (reference.conf's 0 means a tenth of a second's worth, at least 1).</summary>
    public int Burst { get; init; } = 1;

    internal static RateLimitSettings Create(HoconReader r)
    {
        var rate = r.Double("rate-limit.permits-per-second", 0, 1_000_000);
        var burst = r.Int("rate-limit.burst", 0, 1_000_000);
        return new RateLimitSettings
        {
            PermitsPerSecond = rate,
            Burst = burst > 0 ? burst : Math.Max(1, (int)Math.Ceiling(rate / 10)),
        };
    }
}

/// <summary>An origin's circuit breaker (<c>circuit-breaker.*</c>).</summary>
public sealed record CircuitBreakerSettings
{
    /// <summary>Whether the breaker is on.</summary>
    public bool Enabled { get; init; } = Configuration.ReferenceDefaults.Bool("client-defaults.circuit-breaker.enabled");

    /// <summary>Failure ratio in the window that opens the circuit.</summary>
    public double FailureRatio { get; init; } = Configuration.ReferenceDefaults.Double("client-defaults.circuit-breaker.failure-ratio");

    /// <summary>Attempts the window must hold before it can open.</summary>
    public int MinimumThroughput { get; init; } = Configuration.ReferenceDefaults.Int("client-defaults.circuit-breaker.minimum-throughput");

    /// <summary>The sampling window.</summary>
    public TimeSpan SamplingDuration { get; init; } = Configuration.ReferenceDefaults.Duration("client-defaults.circuit-breaker.sampling-duration");

    /// <summary>How long the circuit stays open before a probe.</summary>
    public TimeSpan BreakDuration { get; init; } = Configuration.ReferenceDefaults.Duration("client-defaults.circuit-breaker.break-duration");

    internal static CircuitBreakerSettings Create(HoconReader r) => new()
    {
        Enabled = r.Bool("circuit-breaker.enabled"),
        FailureRatio = r.Double("circuit-breaker.failure-ratio", 0.01, 1),
        MinimumThroughput = r.Int("circuit-breaker.minimum-throughput", 1, 1_000_000),
        SamplingDuration = r.Duration("circuit-breaker.sampling-duration"),
        BreakDuration = r.Duration("circuit-breaker.break-duration"),
    };
}
