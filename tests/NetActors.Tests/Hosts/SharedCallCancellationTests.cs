using System.Diagnostics;
using System.Net;

namespace NetActors.Tests.Hosts;

public sealed class SharedCallCancellationTests
{
    [Fact]
    public async Task Cancelling_the_leader_then_every_follower_of_a_shared_call_aborts_the_wire_call_and_frees_its_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var aborted = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Map("/shared", async ctx =>
        {
            // Answers only when the client goes away; tells the test when that happened.
            using var _ = ctx.RequestAborted.Register(() => aborted.TrySetResult(Stopwatch.GetTimestamp()));
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        upstream.Respond("/after", 200, "{}");
        // The response timeout is far away: only the callers' cancellation can end the shared call in time.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithResponseTimeout(TimeSpan.FromSeconds(20))
            .WithTotalTimeout(TimeSpan.FromSeconds(30)));

        var callers = Enumerable.Range(0, 10).Select(_ => new CancellationTokenSource()).ToList();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/shared"), callers[0].Token);
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/shared")));
        var followers = callers.Skip(1).Select(c => net.Client.SendAsync(NetRequest.Get("api", "/shared"), c.Token)).ToList();
        var after = net.Client.SendAsync(NetRequest.Get("api", "/after"));

        // The leader first, then the followers, one by one: each gets its cancellation.
        callers[0].Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        Assert.False(aborted.Task.IsCompleted, "the followers still want the shared call");
        var lastCancelled = 0L;
        foreach (var (caller, follower) in callers.Skip(1).Zip(followers))
        {
            lastCancelled = Stopwatch.GetTimestamp();
            caller.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower);
        }

        // With nobody left interested, the wire call is aborted at once (well before the 20 s response
        // timeout) and the single slot serves the next request.
        var abortedAt = await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(Stopwatch.GetElapsedTime(lastCancelled, abortedAt) < TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.OK, (await after.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        Assert.Equal(1, upstream.Count("/shared"));
        callers.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_shared_calls_leader_whose_caller_left_keeps_its_place_in_the_bound_while_it_is_on_the_wire()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.Map("/shared", async ctx =>
        {
            await gate.PassAsync(ctx);
            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Map("/held/*", async ctx =>
        {
            await gate.PassAsync(ctx);
            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/barrier", 200, "{}");
        // Cap 2 + queue 2: the origin may hold 4 requests.
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2).WithQueueCapacity(2));

        using var leaderCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/shared"), leaderCts.Token);
        await gate.WaitForArrivalsAsync(1);
        var follower = net.Client.SendAsync(NetRequest.Get("api", "/shared"));
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier")); // the follower is attached
        leaderCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);

        // The leader's call is still on the wire for its follower: two of the four places are taken, so two more
        // requests are admitted and the next is refused at once.
        var admitted = new List<Task<NetResponse>>();
        Task<NetResponse> refused;
        while (!(refused = net.Client.SendAsync(NetRequest.Get("api", $"/held/{admitted.Count}"))).IsFaulted)
        {
            admitted.Add(refused);
            Assert.True(admitted.Count <= 4, "the origin admitted far more than it may hold");
        }

        Assert.IsType<NetActors.Errors.OverloadedException>(refused.Exception!.InnerException);
        Assert.Equal(2, admitted.Count);
        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await follower.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        Assert.All(await Task.WhenAll(admitted).WaitAsync(TimeSpan.FromSeconds(10)), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, upstream.Count("/shared"));
    }

    [Fact]
    public async Task A_shared_call_whose_callers_all_cancelled_leaves_no_trace_for_later_identical_requests()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var calls = 0;
        upstream.Map("/me", async ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await gate.PassAsync(ctx);
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/barrier", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream);

        using var leaderCts = new CancellationTokenSource();
        using var followerCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/me"), leaderCts.Token);
        await gate.WaitForArrivalsAsync(1);
        var follower = net.Client.SendAsync(NetRequest.Get("api", "/me"), followerCts.Token);
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the follower is attached
        leaderCts.Cancel();
        followerCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower);
        gate.Open();
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the shared call has ended by now

        var later = await net.Client.SendAsync(NetRequest.Get("api", "/me").WithTimeout(TimeSpan.FromSeconds(5)));

        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }
}
