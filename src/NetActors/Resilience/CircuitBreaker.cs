using NetActors.Configuration;
namespace NetActors.Resilience;

/// <summary>The state of an origin's circuit.</summary>
public enum CircuitState
{
    /// <summary>Requests flow.</summary>
    Closed,

    /// <summary>Requests fail fast with <see cref="Errors.CircuitOpenException"/>.</summary>
    Open,

    /// <summary>One probe request is let through; its outcome closes or reopens the circuit.</summary>
    HalfOpen,
}

/// <summary>Published on the event stream when an origin's circuit changes state.</summary>
/// <param name="Origin">The origin (scheme://host:port).</param>
/// <param name="Previous">The state before.</param>
/// <param name="Current">The state now.</param>
public sealed record CircuitStateChanged(string Origin, CircuitState Previous, CircuitState Current);

/// <summary>
/// An origin's circuit breaker, owned by its host actor (single-threaded). Outcomes are counted in buckets
/// over the sampling window; the circuit opens when the failure ratio and the minimum throughput are reached.
/// </summary>
internal sealed class CircuitBreaker(CircuitBreakerSettings settings)
{
    private const int Buckets = 10;
    private readonly (long Start, int Ok, int Failed)[] _window = new (long, int, int)[Buckets];
    private DateTimeOffset _openedAt;
    private bool _probeInFlight;

    public CircuitState State { get; private set; } = CircuitState.Closed;

    public bool Enabled => settings.Enabled;

    /// <summary>Whether a request may go now; when not, how long until a probe may.</summary>
    public bool Allow(DateTimeOffset now, out TimeSpan retryIn, out CircuitStateChanged? changed)
    {
        changed = null;
        retryIn = TimeSpan.Zero;
        if (!settings.Enabled || State == CircuitState.Closed)
        {
            return true;
        }

        if (State == CircuitState.Open)
        {
            var reopen = _openedAt + settings.BreakDuration;
            if (now < reopen)
            {
                retryIn = reopen - now;
                return false;
            }

            changed = Transition(CircuitState.HalfOpen);
        }

        if (_probeInFlight)
        {
            retryIn = settings.BreakDuration;
            return false;
        }

        _probeInFlight = true;
        return true;
    }

    /// <summary>Records an attempt's outcome; returns a state change, if any.</summary>
    public CircuitStateChanged? Record(bool failed, DateTimeOffset now)
    {
        if (!settings.Enabled)
        {
            return null;
        }

        if (State == CircuitState.HalfOpen)
        {
            _probeInFlight = false;
            if (failed)
            {
                _openedAt = now;
                return Transition(CircuitState.Open);
            }

            Array.Clear(_window);
            return Transition(CircuitState.Closed);
        }

        if (State == CircuitState.Open)
        {
            return null; // a late result of a request sent before the circuit opened
        }

        var bucketTicks = settings.SamplingDuration.Ticks / Buckets;
        var index = (int)(now.UtcTicks / bucketTicks % Buckets);
        var start = now.UtcTicks / bucketTicks * bucketTicks;
        if (_window[index].Start != start)
        {
            _window[index] = (start, 0, 0);
        }

        _window[index] = failed
            ? _window[index] with { Failed = _window[index].Failed + 1 }
            : _window[index] with { Ok = _window[index].Ok + 1 };

        var oldest = now.UtcTicks - settings.SamplingDuration.Ticks;
        int ok = 0, bad = 0;
        foreach (var bucket in _window)
        {
            if (bucket.Start > oldest)
            {
                ok += bucket.Ok;
                bad += bucket.Failed;
            }
        }

        var total = ok + bad;
        if (failed && total >= settings.MinimumThroughput && bad >= settings.FailureRatio * total)
        {
            _openedAt = now;
            Array.Clear(_window);
            return Transition(CircuitState.Open);
        }

        return null;
    }

    /// <summary>A probe that ended without an outcome (cancelled): let another one try.</summary>
    public void ProbeAbandoned() => _probeInFlight = false;

    /// <summary>When the open circuit may let a probe through.</summary>
    public TimeSpan UntilHalfOpen(DateTimeOffset now) =>
        State == CircuitState.Open ? (_openedAt + settings.BreakDuration - now) : TimeSpan.Zero;

    private CircuitStateChanged Transition(CircuitState next)
    {
        var previous = State;
        State = next;
        return new CircuitStateChanged(string.Empty, previous, next);
    }
}
