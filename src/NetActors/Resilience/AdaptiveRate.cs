using NetActors.Configuration;
namespace NetActors.Resilience;

/// <summary>
/// An origin's adaptive rate, owned by its host actor through the <see cref="RateGate"/> (single-threaded,
/// synchronous, on an injected clock). A rate signal (a 429, or a 503 with <c>Retry-After</c>) multiplies the rate
/// by <c>decrease-factor</c>, at most once per window, so that a burst of 429s sent at the old rate counts as one
/// congestion event; a window with successes, no rate signal and callers that waited for a permit adds
/// <c>increase-step</c>. The rate stays within [<c>min-rate</c>, <c>max-rate</c>]. It is the fleet's rate: in
/// cluster mode the gate divides it among the members as it divides a fixed one.
/// </summary>
internal sealed class AdaptiveRate
{
    private readonly TimeProvider _time;
    private readonly AdaptiveRateSettings _settings;
    private long _windowStart;
    private long _lastDecrease;
    private bool _signalled;
    private bool _throttled;
    private int _successes;
    private double _reported;

    public AdaptiveRate(AdaptiveRateSettings settings, double configured, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        Min = settings.MinRate;
        Max = settings.EffectiveMax(configured);
        Rate = Math.Clamp(settings.EffectiveInitial(configured), Min, Max);
        _reported = Rate;
        _windowStart = time.GetTimestamp();
        _lastDecrease = long.MinValue;
    }

    /// <summary>The lowest rate.</summary>
    public double Min { get; }

    /// <summary>The highest rate.</summary>
    public double Max { get; }

    /// <summary>The fleet's rate now, in permits per second.</summary>
    public double Rate { get; private set; }

    /// <summary>A caller waited for a permit: the rate was what limited the origin in this window.</summary>
    public void Throttled() => _throttled = true;

    /// <summary>
    /// One response: <paramref name="rateSignal"/> when the server said the client is over its rate, else a
    /// success (a 2xx or 3xx). True when <see cref="Rate"/> changed.
    /// </summary>
    public bool Record(bool rateSignal)
    {
        var now = _time.GetTimestamp();
        if (rateSignal)
        {
            _signalled = true;
            if (_lastDecrease != long.MinValue && _time.GetElapsedTime(_lastDecrease, now) < _settings.Window)
            {
                return false; // the same congestion event: answers to what was sent at the old rate
            }

            _lastDecrease = now;
            var before = Rate;
            Rate = Math.Max(Min, Rate * _settings.DecreaseFactor);
            Restart(now);
            return Rate != before;
        }

        _successes++;
        if (_time.GetElapsedTime(_windowStart, now) < _settings.Window)
        {
            return false;
        }

        var grow = !_signalled && _throttled && _successes > 0;
        Restart(now);
        if (!grow)
        {
            return false;
        }

        var previous = Rate;
        Rate = Math.Min(Max, Rate + _settings.IncreaseStep);
        return Rate != previous;
    }

    /// <summary>
    /// True (once) when the rate moved by more than <c>event-step</c> since the change last reported (or reached a
    /// bound); <paramref name="previous"/> is the value last reported.
    /// </summary>
    public bool TakeReportable(out double previous)
    {
        previous = _reported;
        var moved = Math.Abs(Rate - _reported);
        if (moved == 0 || (moved <= _reported * _settings.EventStep && Rate != Min && Rate != Max))
        {
            return false;
        }

        _reported = Rate;
        return true;
    }

    private void Restart(long now)
    {
        _windowStart = now;
        _signalled = false;
        _throttled = false;
        _successes = 0;
    }
}
