using Microsoft.Extensions.Time.Testing;
using NetActors.Resilience;
using NetActors.Configuration;

namespace NetActors.Tests.Resilience;

/// <summary>The adaptive rate on its own, on a fake clock: a burst of 429s is one decrease, growth needs waiting callers.</summary>
public sealed class AdaptiveRateTests
{
    private readonly FakeTimeProvider _clock = new();

    private static AdaptiveRateSettings Settings => new()
    {
        Enabled = true, MinRate = 2, MaxRate = 50, Window = TimeSpan.FromMilliseconds(200), DecreaseFactor = 0.5, IncreaseStep = 1,
    };

    [Fact]
    public void A_burst_of_429s_within_one_window_lowers_the_rate_once()
    {
        var rate = new AdaptiveRate(Settings, 40, _clock);
        Assert.True(rate.Record(rateSignal: true));
        for (var i = 0; i < 20; i++)
        {
            Assert.False(rate.Record(rateSignal: true));
        }

        Assert.Equal(20, rate.Rate);
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.True(rate.Record(rateSignal: true));
        Assert.Equal(10, rate.Rate);
    }

    [Fact]
    public void Successes_raise_the_rate_only_after_a_window_in_which_callers_waited_for_it()
    {
        var rate = new AdaptiveRate(Settings, 10, _clock);
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(rate.Record(rateSignal: false)); // nobody waited: the rate did not limit anything
        Assert.Equal(10, rate.Rate);

        rate.Throttled();
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.False(rate.Record(rateSignal: false)); // the window is not over
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(rate.Record(rateSignal: false));
        Assert.Equal(11, rate.Rate);
    }

    [Fact]
    public void The_rate_stays_within_its_bounds()
    {
        var rate = new AdaptiveRate(Settings, 50, _clock);
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(200));
            rate.Record(rateSignal: true);
        }

        Assert.Equal(2, rate.Rate);
        for (var i = 0; i < 100; i++)
        {
            rate.Throttled();
            _clock.Advance(TimeSpan.FromMilliseconds(200));
            rate.Record(rateSignal: false);
        }

        Assert.Equal(50, rate.Rate);
    }

    [Fact]
    public void A_simulated_server_limited_to_20_per_second_is_approached_from_above_and_held()
    {
        // The server refuses what is over 20/s (a token bucket of burst 5); the client always has requests waiting.
        var settings = Settings with { DecreaseFactor = 0.9, IncreaseStep = 0.1, MaxRate = 60 }; // 0.5/s per second
        var rate = new AdaptiveRate(settings, 60, _clock);
        double serverTokens = 5, refused = 0, sent = 0;
        var rates = new List<double>();
        var step = TimeSpan.FromMilliseconds(5);
        double owed = 0;
        for (var t = 0; t < 20_000; t += 5)
        {
            _clock.Advance(step);
            serverTokens = Math.Min(5, serverTokens + 20 * step.TotalSeconds);
            owed += rate.Rate * step.TotalSeconds;
            rate.Throttled();
            while (owed >= 1)
            {
                owed -= 1;
                var ok = serverTokens >= 1;
                serverTokens -= ok ? 1 : 0;
                if (t >= 10_000)
                {
                    sent++;
                    refused += ok ? 0 : 1;
                }

                rate.Record(rateSignal: !ok);
            }

            if (t >= 10_000)
            {
                rates.Add(rate.Rate);
            }
        }

        Assert.InRange(rates.Average(), 17, 23);
        Assert.True(refused / sent < 0.02, $"{refused} of {sent} refused");
    }
}
