using System.Threading.RateLimiting;

namespace NetActors.Resilience;

/// <summary>
/// An origin's rate: a token bucket (System.Threading.RateLimiting) plus a pause set by a <c>Retry-After</c>
/// on a 429 or 503. Owned by the host actor; requests over the rate stay in the host's queue.
/// </summary>
internal sealed class RateGate : IDisposable
{
    private readonly TokenBucketRateLimiter? _bucket;
    private readonly TimeSpan _period;
    private DateTimeOffset _pausedUntil;

    public RateGate(RateLimitSettings settings)
    {
        if (settings.PermitsPerSecond <= 0)
        {
            return;
        }

        // Replenish one permit per 1/rate, but not more often than every 10 ms (then several per period).
        var perPeriod = Math.Max(1, (int)Math.Round(settings.PermitsPerSecond / 100));
        _period = TimeSpan.FromSeconds(perPeriod / settings.PermitsPerSecond);
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = settings.Burst,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = _period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>Takes a permit now, or says how long to wait before asking again.</summary>
    public bool TryAcquire(DateTimeOffset now, out TimeSpan wait)
    {
        if (now < _pausedUntil)
        {
            wait = _pausedUntil - now;
            return false;
        }

        wait = TimeSpan.Zero;
        if (_bucket is null)
        {
            return true;
        }

        using var lease = _bucket.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return true;
        }

        wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : _period;
        return false;
    }

    /// <summary>Pauses the origin until <paramref name="until"/> (a Retry-After).</summary>
    public void PauseUntil(DateTimeOffset until)
    {
        if (until > _pausedUntil)
        {
            _pausedUntil = until;
        }
    }

    public void Dispose() => _bucket?.Dispose();
}
