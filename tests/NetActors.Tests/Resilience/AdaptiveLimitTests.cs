using Microsoft.Extensions.Time.Testing;
using NetActors.Resilience;
using NetActors.Configuration;

namespace NetActors.Tests.Resilience;

/// <summary>
/// The adaptive concurrency limits on their own: deterministic, on a fake clock, fed samples directly or by a
/// simulated server whose latency is its base latency up to its capacity and grows (queueing, then contention)
/// beyond it.
/// </summary>
public sealed class AdaptiveLimitTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _clock = new();

    private static AdaptiveConcurrencySettings Gradient(int min = 1, int initial = 10) => new()
    {
        Enabled = true, Algorithm = AdaptiveAlgorithm.Gradient, MinLimit = min, InitialLimit = initial, Window = Window,
        MinWindowSamples = 10, BaselineProbeInterval = TimeSpan.FromSeconds(5),
    };

    private static AdaptiveConcurrencySettings Aimd(int min = 1, int initial = 10) =>
        Gradient(min, initial) with { Algorithm = AdaptiveAlgorithm.Aimd };

    /// <summary>
    /// A server of <paramref name="capacity"/> at 20 ms: k requests at once take 20 ms × k/N × (1 + ¼ (k − N)/N)
    /// beyond N. Closed loop: <paramref name="callers"/> callers always have a request ready; runs for
    /// <paramref name="duration"/> of fake time and returns the limit after each batch.
    /// </summary>
    private List<int> Drive(AdaptiveLimit limit, int capacity, TimeSpan duration, int callers = 64, bool dropsBeyond = false)
    {
        var seen = new List<int>();
        var end = _clock.GetUtcNow() + duration;
        while (_clock.GetUtcNow() < end)
        {
            var k = Math.Min(callers, limit.Current);
            var over = Math.Max(0, k - capacity);
            var ms = k <= capacity ? 20 : 20.0 * k / capacity * (1 + 0.25 * over / capacity);
            for (var i = 0; i < k; i++)
            {
                // The 503 mode answers the ones beyond capacity at once; the others take the base latency.
                var dropped = dropsBeyond && i >= capacity;
                limit.Record(TimeSpan.FromMilliseconds(dropsBeyond ? 20 : ms), k, dropped);
            }

            _clock.Advance(TimeSpan.FromMilliseconds(dropsBeyond ? 20 : ms));
            seen.Add(limit.Current);
        }

        return seen;
    }

    [Fact]
    public void Gradient_limit_settles_near_the_capacity_of_a_server_that_slows_beyond_it()
    {
        var limit = AdaptiveLimit.Create(Gradient(), 64, _clock)!;
        var seen = Drive(limit, capacity: 8, TimeSpan.FromSeconds(20));

        // After the first seconds, at or a little above 8 (it settles where latency is rtt-tolerance × baseline),
        // far from the 64 that max-connections allows; the probe windows run at min-limit.
        var settled = seen.Skip(seen.Count / 4).Where(l => l > 1).ToList();
        Assert.InRange(settled.Average(), 8, 12);
        Assert.All(settled, l => Assert.InRange(l, 6, 13));
    }

    [Fact]
    public void Gradient_limit_follows_the_capacity_down_and_back_up()
    {
        var limit = AdaptiveLimit.Create(Gradient(), 64, _clock)!;
        Drive(limit, capacity: 16, TimeSpan.FromSeconds(5));
        Assert.InRange(limit.Current, 14, 26);

        var down = Drive(limit, capacity: 4, TimeSpan.FromSeconds(2));
        Assert.InRange(down[^1], 3, 8);

        var up = Drive(limit, capacity: 16, TimeSpan.FromSeconds(5));
        Assert.InRange(up[^1], 14, 26);
    }

    [Fact]
    public void Gradient_limit_is_not_raised_by_windows_that_use_less_than_half_of_it()
    {
        var limit = AdaptiveLimit.Create(Gradient(initial: 20), 64, _clock)!;
        Drive(limit, capacity: 64, TimeSpan.FromSeconds(1), callers: 1); // the probe at min-limit: the baseline
        var before = limit.Current;
        Drive(limit, capacity: 64, TimeSpan.FromSeconds(3), callers: 4);
        Assert.Equal(before, limit.Current);
    }

    [Fact]
    public void Gradient_limit_measures_its_baseline_at_min_limit_first_and_ignores_attempts_started_before_a_probe()
    {
        var limit = (GradientLimit)AdaptiveLimit.Create(Gradient(min: 2), 64, _clock)!;
        Assert.True(limit.Probing);
        Assert.Equal(2, limit.Current);

        // Attempts that were on the wire with 30 others are not the unloaded latency.
        for (var i = 0; i < 20; i++)
        {
            limit.Record(TimeSpan.FromMilliseconds(500), 30, false);
        }

        _clock.Advance(Window);
        limit.Record(TimeSpan.FromMilliseconds(500), 30, false);
        Assert.True(limit.Probing);

        for (var i = 0; i < 10; i++)
        {
            limit.Record(TimeSpan.FromMilliseconds(20), 2, false);
        }

        Assert.False(limit.Probing);
        Assert.Equal(0.020, limit.BaselineSeconds, 3);
        Assert.Equal(10, limit.Current); // back to the limit it had before the probe
    }

    [Fact]
    public void Gradient_limit_backs_off_on_a_window_with_drops()
    {
        var limit = AdaptiveLimit.Create(Gradient(initial: 20), 64, _clock)!;
        Drive(limit, capacity: 64, TimeSpan.FromMilliseconds(300), callers: 1); // probe
        var before = limit.Current;
        var seen = Drive(limit, capacity: 4, TimeSpan.FromSeconds(1), dropsBeyond: true);
        Assert.True(seen[^1] < before / 2, $"{before} -> {seen[^1]}");
    }

    [Fact]
    public void Limit_is_recomputed_once_per_window_not_per_request()
    {
        var limit = AdaptiveLimit.Create(Aimd(initial: 10), 64, _clock)!;
        for (var i = 0; i < 100; i++)
        {
            Assert.False(limit.Record(TimeSpan.FromMilliseconds(20), 10, dropped: true)); // the window is not over
        }

        Assert.Equal(10, limit.Current);
        _clock.Advance(Window);
        Assert.True(limit.Record(TimeSpan.FromMilliseconds(20), 10, dropped: true));
        Assert.Equal(9, limit.Current); // one decrease for the whole window of drops

        _clock.Advance(Window);
        Assert.False(limit.Record(TimeSpan.FromMilliseconds(20), 10, dropped: false)); // too few samples yet
        Assert.Equal(9, limit.Current);
    }

    [Fact]
    public void Aimd_adds_one_per_healthy_window_and_multiplies_on_a_drop_within_its_bounds()
    {
        var limit = AdaptiveLimit.Create(Aimd(min: 2, initial: 4) with { MaxLimit = 6 }, 64, _clock)!;
        Window_of(limit, inFlight: 4, dropped: false);
        Assert.Equal(5, limit.Current);
        Window_of(limit, inFlight: 5, dropped: false);
        Window_of(limit, inFlight: 6, dropped: false);
        Window_of(limit, inFlight: 6, dropped: false);
        Assert.Equal(6, limit.Current); // max-limit

        Window_of(limit, inFlight: 2, dropped: false);
        Assert.Equal(6, limit.Current); // a window that used a third of the limit does not raise it

        for (var i = 0; i < 10; i++)
        {
            Window_of(limit, inFlight: 6, dropped: true);
        }

        Assert.Equal(2, limit.Current); // min-limit
    }

    [Fact]
    public void Limit_never_exceeds_max_connections()
    {
        var limit = AdaptiveLimit.Create(Aimd(initial: 3), 5, _clock)!;
        Assert.Equal(5, limit.Max);
        for (var i = 0; i < 20; i++)
        {
            Window_of(limit, inFlight: 5, dropped: false);
        }

        Assert.Equal(5, limit.Current);

        var gradient = AdaptiveLimit.Create(Gradient(initial: 3), 5, _clock)!;
        Drive(gradient, capacity: 100, TimeSpan.FromSeconds(5));
        Assert.Equal(5, gradient.Current);
    }

    [Fact]
    public void A_change_is_reported_once_it_exceeds_the_event_step()
    {
        var limit = AdaptiveLimit.Create(Aimd(initial: 8) with { EventStep = 0.25 }, 64, _clock)!;
        Window_of(limit, inFlight: 8, dropped: false); // 9
        Assert.False(limit.TakeReportable(out _));
        Window_of(limit, inFlight: 9, dropped: false); // 10: +2 of 8 is a quarter
        Assert.True(limit.TakeReportable(out var previous));
        Assert.Equal(8, previous);
        Assert.False(limit.TakeReportable(out _));
    }

    private void Window_of(AdaptiveLimit limit, int inFlight, bool dropped)
    {
        _clock.Advance(Window);
        for (var i = 0; i < 10; i++)
        {
            limit.Record(TimeSpan.FromMilliseconds(20), inFlight, dropped);
        }
    }
}
