using System.Diagnostics;

namespace NetActors.Resilience;

/// <summary>
/// An origin's rate: a token bucket refilled continuously at <c>permits-per-second</c> up to <c>burst</c>, plus
/// a pause set by a <c>Retry-After</c> on a 429 or 503. Owned by the host actor; requests over the rate stay in
/// the host's queue and the actor is told exactly when the next permit is due. (System.Threading.RateLimiting's
/// TokenBucketRateLimiter replenishes on its own timer in whole periods; driven by an actor timer it aliases
/// against that timer and loses permits, which is why the bucket is computed here from the monotonic clock.)
/// </summary>
internal sealed class RateGate(RateLimitSettings settings)
{
    private readonly double _rate = settings.PermitsPerSecond;
    private readonly double _burst = Math.Max(1, settings.Burst);
    private double _tokens = Math.Max(1, settings.Burst);
    private long _stamp = Stopwatch.GetTimestamp();
    private DateTimeOffset _pausedUntil;

    /// <summary>Takes a permit now, or says how long until the next one.</summary>
    public bool TryAcquire(DateTimeOffset now, out TimeSpan wait)
    {
        if (now < _pausedUntil)
        {
            wait = _pausedUntil - now;
            return false;
        }

        wait = TimeSpan.Zero;
        if (_rate <= 0)
        {
            return true;
        }

        var stamp = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + Stopwatch.GetElapsedTime(_stamp, stamp).TotalSeconds * _rate);
        _stamp = stamp;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        wait = TimeSpan.FromSeconds((1 - _tokens) / _rate);
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
}
