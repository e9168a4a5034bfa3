using System.Diagnostics;
using System.Net;
using Akka.Actor;
using NetActors.Errors;
using NetActors.Hosts;
using NetActors.Resilience;

namespace NetActors.Tests.Hosts;

/// <summary>
/// Deadlines as the host actors keep them: a timing wheel per origin while a request waits, the attempt's own
/// (reused) cancellation source while it is on the wire.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class DeadlineTests
{
    [Fact]
    public void The_wheel_expires_exactly_the_deadlines_that_have_passed_including_ones_several_rounds_ahead()
    {
        var wheel = new DeadlineWheel();
        var soon = Begun(TimeSpan.FromMilliseconds(50));
        var later = Begun(TimeSpan.FromSeconds(2));
        var nextRound = Begun(TimeSpan.FromSeconds(7));     // past one round of the wheel (5.12 s)
        var muchLater = Begun(TimeSpan.FromSeconds(30));    // several rounds
        var removed = Begun(TimeSpan.FromMilliseconds(50));
        foreach (var ex in new[] { soon, later, nextRound, muchLater, removed })
        {
            wheel.Add(ex);
        }

        wheel.Remove(removed);
        Assert.Equal(4, wheel.Count);
        Assert.Equal(-1, removed.WheelSlot);

        var expired = new List<Exchange>();
        wheel.Expire(soon.TotalDeadline - 1, expired);
        Assert.Empty(expired);

        // Due no earlier than the first deadline and no more than one 10 ms slot after it.
        var due = wheel.NextDue()!.Value;
        Assert.InRange(due, soon.TotalDeadline, soon.TotalDeadline + DeadlineWheel.SlotTicks);

        wheel.Expire(soon.TotalDeadline, expired);
        Assert.Equal([soon], expired);

        expired.Clear();
        wheel.Expire(later.TotalDeadline + DeadlineWheel.SlotTicks, expired);
        Assert.Equal([later], expired);

        // A slot of the next round that shares its place with 7 s is visited before 7 s: nothing fires early.
        expired.Clear();
        wheel.Expire(nextRound.TotalDeadline - Stopwatch.Frequency * 5, expired);
        Assert.Empty(expired);
        wheel.Expire(nextRound.TotalDeadline, expired);
        Assert.Equal([nextRound], expired);

        expired.Clear();
        wheel.Expire(muchLater.TotalDeadline - 1, expired);
        Assert.Empty(expired);
        Assert.Equal(1, wheel.Count);
        wheel.Expire(muchLater.TotalDeadline, expired);
        Assert.Equal([muchLater], expired);
        Assert.Equal(0, wheel.Count);
        Assert.Null(wheel.NextDue());
    }

    [Fact]
    public void Moving_a_deadline_within_a_crowded_slot_keeps_the_others()
    {
        var wheel = new DeadlineWheel();
        var exchanges = Enumerable.Range(0, 5).Select(_ => Begun(TimeSpan.FromSeconds(1))).ToList();
        foreach (var ex in exchanges)
        {
            wheel.Add(ex);
        }

        wheel.Remove(exchanges[2]);   // the middle of a slot's list
        wheel.Add(exchanges[0]);      // moved: taken out and put in again
        wheel.Remove(exchanges[4]);   // the head

        var expired = new List<Exchange>();
        wheel.Expire(exchanges.Max(e => e.TotalDeadline), expired);
        Assert.Equal(new[] { exchanges[0], exchanges[1], exchanges[3] }.ToHashSet(), expired.ToHashSet());
        Assert.Equal(3, expired.Count);
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public void A_wheel_that_grows_keeps_every_deadline_and_expires_each_at_its_time()
    {
        var wheel = new DeadlineWheel();
        var random = new Random(7);
        var exchanges = Enumerable.Range(0, 3000)
            .Select(_ => Begun(TimeSpan.FromMilliseconds(random.Next(1, 60_000))))
            .ToList();
        foreach (var ex in exchanges)
        {
            wheel.Add(ex);
        }

        foreach (var ex in exchanges.Where((_, i) => i % 3 == 0))
        {
            wheel.Remove(ex);
        }

        var remaining = exchanges.Where((_, i) => i % 3 != 0).OrderBy(e => e.TotalDeadline).ToList();
        Assert.Equal(remaining.Count, wheel.Count);
        var expired = new List<Exchange>();
        var start = remaining[0].StartedAt;
        for (var now = start; wheel.Count > 0; now += Stopwatch.Frequency / 7)
        {
            var next = wheel.NextDue()!.Value;
            var earliest = remaining[expired.Count].TotalDeadline;
            Assert.InRange(next, earliest, earliest + DeadlineWheel.SlotTicks);
            var before = expired.Count;
            wheel.Expire(now, expired);
            Assert.All(expired.Skip(before), e => Assert.True(e.TotalDeadline <= now));
            Assert.Equal(remaining.Count(e => e.TotalDeadline <= now), expired.Count);
        }

        Assert.Equal(remaining.ToHashSet(), expired.ToHashSet());
    }

    [Fact]
    public async Task A_follower_keeps_its_own_total_timeout_across_a_crash_of_its_host_actor()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/ref", gate);
        upstream.Respond("/barrier", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream);

        var leader = net.Client.SendAsync(NetRequest.Get("api", "/ref"));
        await gate.WaitForArrivalsAsync(1);
        var follower = net.Client.SendAsync(NetRequest.Get("api", "/ref").WithTimeout(TimeSpan.FromMilliseconds(500)));
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the follower is attached by now
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(new InjectFault("a bug in the host actor (test)"));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => follower.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.False(leader.IsCompleted);

        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await leader.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        Assert.Equal(1, upstream.Count("/ref"));
    }

    [Fact]
    public async Task After_an_attempt_timed_out_the_next_requests_to_the_origin_are_not_cancelled()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/hang", ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted));
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(2).WithMaxAttempts(1).WithResponseTimeout(TimeSpan.FromMilliseconds(200)));

        for (var round = 0; round < 3; round++)
        {
            var error = await Assert.ThrowsAsync<NetTimeoutException>(() => net.Client.SendAsync(NetRequest.Get("api", "/hang")));
            Assert.Equal(TimeoutKind.Attempt, error.Kind);

            // The attempt sources of this origin are reused; a cancelled one must never be handed out again.
            var responses = await Task.WhenAll(Enumerable.Range(0, 20)
                .Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/ok?round={round}&i={i}"))));
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        }

        Assert.Equal(60, upstream.Count("/ok"));
    }

    [Fact]
    public async Task A_response_hook_slower_than_the_total_timeout_does_not_hold_the_caller()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        var hook = new StuckResponseHook();
        await using var net = await NetHost.StartAsync(upstream, c => c.AddInterceptor(hook));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/ok").WithTimeout(TimeSpan.FromMilliseconds(300)))
                .WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.True(hook.Entered.Task.IsCompleted);

        hook.Release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
    }

    private static Exchange Begun(TimeSpan timeout)
    {
        var ex = Exchange.ForTask(NetRequest.Get("api", "/x"), CancellationToken.None);
        ex.Begin(timeout);
        return ex;
    }

    /// <summary>An OnResponse hook that waits until the test releases it.</summary>
    private sealed class StuckResponseHook : NetInterceptor
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override string Name => "stuck";

        public override async ValueTask OnResponseAsync(NetResponse response, NetInterceptorContext context,
            CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Release.Task.ConfigureAwait(false);
        }
    }
}
