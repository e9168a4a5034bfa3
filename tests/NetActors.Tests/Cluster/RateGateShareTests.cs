using NetActors.Resilience;
using NetActors.Configuration;

namespace NetActors.Tests.Cluster;

/// <summary>
/// A member's share of a fleet's rate keeps fractions and keeps the lateness of its waiters, so that the shares
/// add up to the fleet's rate. The gate reads the monotonic clock, so the late timer here is a real late wait.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class RateGateShareTests
{
    private static RateLimitSettings Rate(double perSecond, int burst) => new() { PermitsPerSecond = perSecond, Burst = burst };

    [Fact]
    public void A_burst_divided_among_members_is_kept_as_a_fraction_not_rounded_down()
    {
        // 30/s with a burst of 3 over two members: 15/s and a burst of 1.5 each (rounding down would make it 1).
        var gate = new RateGate(Rate(30, 3), () => 2);
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var wait));
        // Half a permit is left: the next one is due in half an interval (1/30 s), not a whole one (1/15 s).
        Assert.InRange(wait.TotalMilliseconds, 25, 34);
    }

    [Fact]
    public void The_share_follows_the_member_count_on_every_permit()
    {
        var members = 3;
        var gate = new RateGate(Rate(30, 3), () => members);
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var third));
        members = 1;
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var whole));

        Assert.InRange(third.TotalMilliseconds, 90, 101);   // 10/s
        Assert.InRange(whole.TotalMilliseconds, 25, 34);    // 30/s
    }

    [Fact]
    public async Task A_waiter_that_comes_back_late_keeps_its_lateness_with_a_one_permit_share()
    {
        // 30/s over three members: a one-permit bucket at 10/s. The waiter's timer fires 60 ms late.
        var gate = new RateGate(Rate(30, 3), () => 3);
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var wait));
        await Task.Delay(wait + TimeSpan.FromMilliseconds(60)); // the late timer under test, not a synchronisation
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var next));

        // The 60 ms are credited: the next permit is due about 40 ms later, not a whole 100 ms interval.
        Assert.True(next < TimeSpan.FromMilliseconds(70), $"the next permit was due in {next.TotalMilliseconds:0} ms");
    }

    [Fact]
    public void After_an_idle_period_a_share_holds_no_more_than_its_burst()
    {
        var gate = new RateGate(Rate(1000, 3), () => 3); // one permit each, refilled in a millisecond
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        SpinWait.SpinUntil(() => false, TimeSpan.FromMilliseconds(20)); // idle: far more than the burst accrues
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
    }

    [Fact]
    public void An_adaptive_rate_is_the_fleets_and_each_member_takes_its_share_of_it()
    {
        // The adaptive rate starts at 40/s for the fleet: two members take 20/s each (a permit every 50 ms).
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var adaptive = new AdaptiveRate(new AdaptiveRateSettings { Enabled = true, MinRate = 1, MaxRate = 40, DecreaseFactor = 0.5 }, 40, clock);
        var gate = new RateGate(Rate(40, 1), () => 2, adaptive);
        Assert.True(gate.TryAcquire(DateTimeOffset.UtcNow, out _));
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var before));
        Assert.InRange(before.TotalMilliseconds, 40, 51);

        // A 429 halves the fleet's rate to 20/s: each member's share is 10/s at once (a permit every 100 ms).
        adaptive.Record(rateSignal: true);
        Assert.Equal(20, adaptive.Rate);
        Assert.False(gate.TryAcquire(DateTimeOffset.UtcNow, out var after));
        Assert.Equal(20, gate.FleetRate);
        Assert.InRange(after.TotalMilliseconds, 80, 101);
    }
}
