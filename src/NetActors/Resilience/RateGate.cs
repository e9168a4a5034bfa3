using System.Diagnostics;

namespace NetActors.Resilience;

/// <summary>
/// An origin's rate: a token bucket refilled continuously at <c>permits-per-second</c> up to <c>burst</c>, plus
/// a pause set by a <c>Retry-After</c> on a 429 or 503. Owned by the host actor; requests over the rate stay in
/// the host's queue and the actor is told exactly when the next permit is due. (System.Threading.RateLimiting's
/// TokenBucketRateLimiter replenishes on its own timer in whole periods; driven by an actor timer it aliases
/// against that timer and loses permits, which is why the bucket is computed here from the monotonic clock.)
/// In cluster mode with shared rate limits the configured rate and burst are the fleet's: this process takes
/// its share, <c>1 / members</c> of each (a burst of at least 1), re-read on every permit so that a membership
/// change applies at once.
/// </summary>
internal sealed class RateGate(RateLimitSettings settings, Func<int>? fleetMembers = null)
{
    private readonly double _fleetRate = settings.PermitsPerSecond;
    private readonly double _fleetBurst = Math.Max(1, settings.Burst);
    private double _tokens = Burst(settings.Burst, fleetMembers?.Invoke() ?? 1);
    private long _stamp = Stopwatch.GetTimestamp();
    private DateTimeOffset _pausedUntil;

    private static double Burst(double fleetBurst, int members) => Math.Max(1, Math.Floor(fleetBurst / members));

    /// <summary>Takes a permit now, or says how long until the next one.</summary>
    public bool TryAcquire(DateTimeOffset now, out TimeSpan wait)
    {
        if (now < _pausedUntil)
        {
            wait = _pausedUntil - now;
            return false;
        }

        wait = TimeSpan.Zero;
        if (_fleetRate <= 0)
        {
            return true;
        }

        var members = fleetMembers?.Invoke() ?? 1;
        var rate = _fleetRate / members;
        var stamp = Stopwatch.GetTimestamp();
        _tokens = Math.Min(Burst(_fleetBurst, members), _tokens + Stopwatch.GetElapsedTime(_stamp, stamp).TotalSeconds * rate);
        _stamp = stamp;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        wait = TimeSpan.FromSeconds((1 - _tokens) / rate);
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
