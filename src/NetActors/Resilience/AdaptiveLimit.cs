using NetActors.Configuration;
namespace NetActors.Resilience;

/// <summary>What one sampling window saw: its attempts, their latency and the most that were on the wire at once.</summary>
/// <param name="Samples">Attempts that ended in the window (drops included).</param>
/// <param name="AverageRtt">Mean latency of the attempts that were not drops (zero when all were).</param>
/// <param name="MaxInFlight">The most attempts on the wire when one of the window's attempts started.</param>
/// <param name="Drops">Attempts that ended in a timeout, a 503, a 429 or a reset.</param>
internal readonly record struct LimitWindow(int Samples, TimeSpan AverageRtt, int MaxInFlight, int Drops);

/// <summary>
/// An origin's adaptive concurrency limit, owned by its host actor (single-threaded, synchronous, no timers of
/// its own). Every finished attempt is a sample <c>(rtt, in flight at its start, dropped)</c>; samples are
/// gathered into windows of at least <c>window</c> and <c>min-window-samples</c>, and the limit is recomputed once
/// per window, not per request, so one slow call does not move it. The limit stays within
/// [<c>min-limit</c>, <c>max-limit</c> ≤ <c>max-connections</c>]: the hard cap keeps its meaning.
/// </summary>
internal abstract class AdaptiveLimit
{
    private readonly TimeProvider _time;
    private long _windowStart;
    private int _samples;
    private int _drops;
    private int _maxInFlight;
    private double _rttSeconds;
    private int _reported;

    protected AdaptiveLimit(AdaptiveConcurrencySettings settings, int maxConnections, TimeProvider time)
    {
        Settings = settings;
        _time = time;
        Min = settings.MinLimit;
        Max = settings.EffectiveMax(maxConnections);
        Estimate = Math.Clamp(settings.EffectiveInitial(maxConnections), Min, Max);
        _windowStart = time.GetTimestamp();
        Current = Override ?? (int)Estimate;
        _reported = Current;
    }

    /// <summary>Now, on the limit's clock.</summary>
    protected long Now => _time.GetTimestamp();

    /// <summary>How long since <paramref name="timestamp"/>, on the limit's clock.</summary>
    protected TimeSpan Since(long timestamp) => _time.GetElapsedTime(timestamp, Now);

    /// <summary>A limit that replaces the estimate for a while (the gradient's baseline probe), or null.</summary>
    protected virtual int? Override => null;

    /// <summary>Whether a sample from an attempt that started with <paramref name="inFlight"/> on the wire counts.</summary>
    protected virtual bool Accepts(int inFlight) => true;

    /// <summary>The settings it was made with.</summary>
    public AdaptiveConcurrencySettings Settings { get; }

    /// <summary>The lowest limit.</summary>
    public int Min { get; }

    /// <summary>The highest limit (never above <c>max-connections</c>).</summary>
    public int Max { get; }

    /// <summary>How many attempts may be on the wire now.</summary>
    public int Current { get; private set; }

    /// <summary>The limit as computed, with its fraction (the integer part is <see cref="Current"/>).</summary>
    protected double Estimate { get; private set; }

    /// <summary>The algorithm's name, for logs and the health data.</summary>
    public abstract string Name { get; }

    /// <summary>The limit for <paramref name="settings"/>, or null when it does not adapt.</summary>
    public static AdaptiveLimit? Create(AdaptiveConcurrencySettings settings, int maxConnections, TimeProvider time) =>
        !settings.Enabled ? null
        : settings.Algorithm == AdaptiveAlgorithm.Aimd ? new AimdLimit(settings, maxConnections, time)
        : new GradientLimit(settings, maxConnections, time);

    /// <summary>
    /// One finished attempt: its latency, how many attempts were on the wire when it started (itself included) and
    /// whether it was a drop. True when the window closed and <see cref="Current"/> changed.
    /// </summary>
    public bool Record(TimeSpan rtt, int inFlight, bool dropped)
    {
        if (!Accepts(inFlight))
        {
            return false;
        }

        _samples++;
        _maxInFlight = Math.Max(_maxInFlight, inFlight);
        if (dropped)
        {
            _drops++;
        }
        else
        {
            _rttSeconds += rtt.TotalSeconds;
        }

        var now = _time.GetTimestamp();
        if (_samples < Settings.MinWindowSamples || _time.GetElapsedTime(_windowStart, now) < Settings.Window)
        {
            return false;
        }

        var good = _samples - _drops;
        var window = new LimitWindow(_samples, good > 0 ? TimeSpan.FromSeconds(_rttSeconds / good) : TimeSpan.Zero, _maxInFlight, _drops);
        _windowStart = now;
        _samples = 0;
        _drops = 0;
        _maxInFlight = 0;
        _rttSeconds = 0;

        var before = Current;
        Estimate = Math.Clamp(Next(Estimate, window), Min, Max);
        Current = Math.Clamp(Override ?? (int)Estimate, Min, Max);
        return Current != before;
    }

    /// <summary>
    /// True (once) when the limit moved by more than <c>event-step</c> since the last change reported, so that
    /// logs and events say something happened, not every small step; <paramref name="previous"/> is the value last reported.
    /// </summary>
    public bool TakeReportable(out int previous)
    {
        previous = _reported;
        var moved = Math.Abs(Current - _reported);
        if (moved == 0 || (moved < Math.Max(1, Math.Ceiling(_reported * Settings.EventStep)) && Current != Min && Current != Max))
        {
            return false;
        }

        _reported = Current;
        return true;
    }

    /// <summary>The next estimate from the current one and the window that just closed.</summary>
    protected abstract double Next(double limit, in LimitWindow window);
}

/// <summary>
/// The gradient limit (after Netflix concurrency-limits' Gradient2, with Envoy's way of measuring the baseline):
/// the window's mean latency is compared with the baseline, the latency of the origin unloaded. The gradient
/// <c>rtt-tolerance × baseline / latency</c>, within [0.5, 1], scales the limit, and <c>queue-allowance</c> is added
/// so that a limit that does not hurt latency keeps probing upwards; the result is smoothed. It settles where
/// latency is about <c>rtt-tolerance</c> times the baseline.
/// <para>
/// The baseline is measured, not inferred: a baseline that averages what the limit lets through drifts up with
/// the load it is meant to detect (a server kept 50 % over its capacity would soon look normal). So the first
/// window, and one window every <c>baseline-probe-interval</c>, runs at <c>min-limit</c>, and the mean latency of the
/// attempts started in it is the baseline; between probes it follows latency down, halfway per window (the server got
/// faster). A server whose own latency rose (a deploy) is seen at the next probe.
/// </para>
/// A window that used less than half of the limit leaves it alone (the limit was not tested), and a window with
/// drops backs it off.
/// </summary>
internal sealed class GradientLimit : AdaptiveLimit
{
    private double _baseline;
    private bool _probing = true;
    private long _probed;

    public GradientLimit(AdaptiveConcurrencySettings settings, int maxConnections, TimeProvider time)
        : base(settings, maxConnections, time)
    {
    }

    /// <inheritdoc />
    public override string Name => "gradient";

    /// <summary>The latency baseline, in seconds (0 before the first probe).</summary>
    public double BaselineSeconds => _baseline;

    /// <summary>True while a window measures the baseline at <c>min-limit</c>.</summary>
    public bool Probing => _probing;

    /// <inheritdoc />
    protected override int? Override => _probing ? Min : null;

    /// <inheritdoc />
    protected override bool Accepts(int inFlight) => !_probing || inFlight <= Min; // not the attempts started before the probe

    /// <inheritdoc />
    protected override double Next(double limit, in LimitWindow window)
    {
        var rtt = window.AverageRtt.TotalSeconds;
        if (_probing)
        {
            if (rtt > 0)
            {
                _baseline = rtt;
                _probing = false;
                _probed = Now;
            }

            return limit; // what it had learned before the probe
        }

        if (Since(_probed) >= Settings.BaselineProbeInterval)
        {
            _probing = true; // the next window measures the baseline anew
        }

        if (window.Drops > 0)
        {
            // The server said it is over capacity (or the call died): that is a stronger signal than latency.
            return limit * Settings.BackoffRatio;
        }

        if (rtt <= 0)
        {
            return limit;
        }

        if (rtt < _baseline)
        {
            _baseline += (rtt - _baseline) * 0.5; // faster than it was: follow it down now
        }

        if (window.MaxInFlight < limit / 2)
        {
            return limit; // the application did not use the limit: it says nothing about the server's capacity
        }

        var gradient = Math.Clamp(Settings.RttTolerance * _baseline / rtt, 0.5, 1.0);
        var next = limit * gradient + Settings.QueueAllowance;
        return limit * (1 - Settings.Smoothing) + next * Settings.Smoothing;
    }
}

/// <summary>
/// The AIMD limit: a window with a drop (a timeout, a 503, a 429, a reset) multiplies the limit by
/// <c>backoff-ratio</c>; a healthy window that used at least half the limit adds <c>increase</c>.
/// </summary>
internal sealed class AimdLimit(AdaptiveConcurrencySettings settings, int maxConnections, TimeProvider time)
    : AdaptiveLimit(settings, maxConnections, time)
{
    /// <inheritdoc />
    public override string Name => "aimd";

    /// <inheritdoc />
    protected override double Next(double limit, in LimitWindow window)
    {
        if (window.Drops > 0)
        {
            return Math.Min(limit * Settings.BackoffRatio, limit - 1);
        }

        return window.MaxInFlight * 2 >= limit ? limit + Settings.Increase : limit;
    }
}
