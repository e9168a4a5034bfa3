using System.Diagnostics;
using NetActors.Configuration;

namespace NetActors.Resilience;

/// <summary>
/// An origin's rate: a token bucket refilled continuously at <c>permits-per-second</c> up to <c>burst</c>, plus
/// a pause set by a <c>Retry-After</c> on a 429 or 503. Owned by the host actor; requests over the rate stay in
/// the host's queue and the actor is told exactly when the next permit is due. (System.Threading.RateLimiting's
/// TokenBucketRateLimiter replenishes on its own timer in whole periods; driven by an actor timer it aliases
/// against that timer and loses permits, which is why the bucket is computed here from the monotonic clock.)
/// <para>
/// A rate shared by several processes (cluster mode) is divided by the count <c>members</c> returns, re-read on
/// every permit so that a membership change applies at once: this process takes <c>1 / members</c> of the rate
/// and of the burst, kept as fractions (a burst of 3 over 2 members is 1.5 each, not 1), so that the shares add
/// up to the fleet's rate exactly.
/// </para>
/// <para>
/// A caller told to wait comes back when its timer fires, always a little late. The time it was late is not
/// idle time: the permits it accrued are kept (up to one permit's worth beyond the burst) instead of being cut
/// off at the burst, which with a one-permit share would lose the lateness on every permit and send below the
/// rate. After a real idle period the bucket holds at most the burst, as usual.
/// </para>
/// <para>
/// With an <see cref="AdaptiveRate"/> the fleet's rate is the adaptive one, re-read on every permit, and the burst
/// follows it (the configured burst's share of the configured rate, or a tenth of a second's worth).
/// </para>
/// </summary>
/// <param name="settings">The origin's rate limit (the fleet's, when shared).</param>
/// <param name="members">How many processes share the rate (null: this process alone).</param>
/// <param name="adaptive">The adaptive rate, or null for a fixed one.</param>
internal sealed class RateGate(RateLimitSettings settings, Func<int>? members = null, AdaptiveRate? adaptive = null)
{
    /// <summary>The longest wait for a permit this gate names at once (the queue asks again when it is over).</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromHours(1);

    private readonly double _burstPerRate = BurstPerRate(settings);
    private double _fleetRate = adaptive?.Rate ?? settings.PermitsPerSecond;
    private double _fleetBurst = Math.Max(1, adaptive is null ? settings.Burst : adaptive.Rate * BurstPerRate(settings));
    private double _tokens = Share(Math.Max(1, settings.Burst), members?.Invoke() ?? 1);
    private long _stamp = Stopwatch.GetTimestamp();
    private bool _owed;
    private DateTimeOffset _pausedUntil;

    /// <summary>Burst per permit per second: the configured burst's share of the configured rate, else a tenth of a second.</summary>
    private static double BurstPerRate(RateLimitSettings s) => s.PermitsPerSecond > 0 ? Math.Max(1, s.Burst) / s.PermitsPerSecond : 0.1;

    /// <summary>The adaptive rate, or null.</summary>
    public AdaptiveRate? Adaptive => adaptive;

    /// <summary>True when the gate has no rate to apply (no limit, not adaptive); a pause is separate.</summary>
    public bool Unlimited => adaptive is null && _fleetRate <= 0;

    /// <summary>The fleet's rate the gate applies now (0: none).</summary>
    public double FleetRate => _fleetRate;

    /// <summary>This process's share of the burst: a fraction, at least one permit.</summary>
    private static double Share(double fleetBurst, int members) => Math.Max(1, fleetBurst / Math.Max(1, members));

    /// <summary>Takes a permit now, or says how long until the next one.</summary>
    public bool TryAcquire(DateTimeOffset now, out TimeSpan wait)
    {
        if (now < _pausedUntil)
        {
            wait = _pausedUntil - now;
            return false;
        }

        wait = TimeSpan.Zero;
        if (adaptive is not null && adaptive.Rate != _fleetRate)
        {
            _fleetRate = adaptive.Rate;
            _fleetBurst = Math.Max(1, _fleetRate * _burstPerRate);
        }

        if (_fleetRate <= 0)
        {
            return true;
        }

        var count = Math.Max(1, members?.Invoke() ?? 1);
        var rate = _fleetRate / count;
        var stamp = Stopwatch.GetTimestamp();
        var capacity = Share(_fleetBurst, count);
        if (_owed)
        {
            capacity = Math.Max(capacity, 2); // a waiter's lateness is kept, up to one permit beyond a one-permit burst
        }

        _tokens = Math.Min(capacity, _tokens + Stopwatch.GetElapsedTime(_stamp, stamp).TotalSeconds * rate);
        _stamp = stamp;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            _owed = false;
            return true;
        }

        _owed = true;
        adaptive?.Throttled();
        // At a rate the settings allow but no timer can wait for (1e-300 permits/s, or a fleet share of a tiny rate),
        // the wait is capped: the request's own deadline answers it long before, and nothing overflows.
        var seconds = (1 - _tokens) / rate;
        wait = seconds < MaxWait.TotalSeconds ? TimeSpan.FromSeconds(seconds) : MaxWait;
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
