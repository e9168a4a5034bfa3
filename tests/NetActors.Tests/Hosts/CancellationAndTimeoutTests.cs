using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

[Collection(TimingCollection.Name)]
public sealed class CancellationAndTimeoutTests
{
    [Fact]
    public async Task Cancelling_a_queued_request_removes_it_from_the_queue_and_it_is_never_sent()
    {
        await using var held = await HeldSlot.StartAsync();
        var (upstream, net) = (held.Upstream, held.Net);
        using var cts = new CancellationTokenSource();
        var queued = net.Client.SendAsync(NetRequest.Get("api", "/queued"), cts.Token);
        var after = net.Client.SendAsync(NetRequest.Get("api", "/queued").WithHeader("X-After", "1"));
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        await held.ReleaseAsync();
        await after;
        Assert.Equal(1, upstream.Count("/queued"));
        Assert.Equal("1", upstream.Seen.Single(s => s.Path == "/queued").Headers["X-After"]);
    }

    [Fact]
    public async Task Cancelling_an_in_flight_request_aborts_the_http_call_and_frees_its_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Map("/hang", async ctx =>
        {
            ctx.RequestAborted.Register(() => aborted.TrySetResult());
            arrived.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1));

        using var cts = new CancellationTokenSource();
        var hanging = net.Client.SendAsync(NetRequest.Get("api", "/hang"), cts.Token);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var next = await net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(next.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Total_timeout_covers_the_queue_wait()
    {
        await using var held = await HeldSlot.StartAsync();
        var queued = held.Net.Client.SendAsync(NetRequest.Get("api", "/queued").WithTimeout(TimeSpan.FromMilliseconds(300)));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => queued);
        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.Equal(0, error.Attempts);
        await held.ReleaseAsync();
        Assert.Equal(0, held.Upstream.Count("/queued"));
    }

    [Fact]
    public async Task Queued_requests_time_out_each_on_its_own_deadline_whatever_their_place_in_the_queue()
    {
        await using var held = await HeldSlot.StartAsync();
        var finished = new List<int>();
        var timeouts = new[] { 900, 600, 300 };   // queued in this order, due in the other
        var queued = timeouts.Select(ms =>
        {
            var sent = Stopwatch.GetTimestamp();
            return held.Net.Client.SendAsync(NetRequest.Get("api", $"/queued?ms={ms}").WithTimeout(TimeSpan.FromMilliseconds(ms)))
                .ContinueWith(t =>
                {
                    lock (finished)
                    {
                        finished.Add(ms);
                    }

                    return (Task: t, Waited: Stopwatch.GetElapsedTime(sent));
                }, TaskScheduler.Default);
        }).ToList();

        var results = await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([300, 600, 900], finished);
        for (var i = 0; i < timeouts.Length; i++)
        {
            var error = Assert.IsType<NetTimeoutException>(results[i].Task.Exception!.InnerException);
            Assert.Equal(TimeoutKind.Total, error.Kind);
            Assert.Equal(0, error.Attempts);
            Assert.True(results[i].Waited >= TimeSpan.FromMilliseconds(timeouts[i]),
                $"the {timeouts[i]} ms request failed after {results[i].Waited.TotalMilliseconds:0} ms");
        }

        await held.ReleaseAsync();
        Assert.Equal(0, held.Upstream.Count("/queued"));
    }

    [Fact]
    public async Task Total_timeout_aborts_an_in_flight_call()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Map("/hang", async ctx =>
        {
            ctx.RequestAborted.Register(() => aborted.TrySetResult());
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/hang").WithTimeout(TimeSpan.FromMilliseconds(300))));

        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.Equal(1, error.Attempts);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Response_timeout_limits_one_attempt()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/hang", ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithResponseTimeout(TimeSpan.FromMilliseconds(200)));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => net.Client.SendAsync(NetRequest.Get("api", "/hang")));

        Assert.Equal(TimeoutKind.Attempt, error.Kind);
        Assert.Contains("response timeout", error.Message);
    }

    /// <summary>
    /// An origin with one connection, taken by a request to /hold that the upstream keeps until released; requests
    /// to /queued wait behind it (the upstream answers them at once).
    /// </summary>
    private sealed class HeldSlot : IAsyncDisposable
    {
        private readonly Gate _gate = new();
        private Task<NetResponse> _holder = null!;

        public TestUpstream Upstream { get; private set; } = null!;

        public NetHost Net { get; private set; } = null!;

        public static async Task<HeldSlot> StartAsync()
        {
            var held = new HeldSlot { Upstream = await TestUpstream.StartAsync() };
            held.Upstream.MapGated("/hold", held._gate);
            held.Upstream.Respond("/queued", 200, "{}");
            held.Net = await NetHost.StartAsync(held.Upstream, c => c.WithMaxConnections(1));
            held._holder = held.Net.Client.SendAsync(NetRequest.Get("api", "/hold"));
            await held._gate.WaitForArrivalsAsync(1);
            return held;
        }

        /// <summary>Lets the held request finish; it succeeds.</summary>
        public async Task ReleaseAsync()
        {
            _gate.Open();
            Assert.Equal(System.Net.HttpStatusCode.OK, (await _holder).StatusCode);
        }

        public async ValueTask DisposeAsync()
        {
            await Net.DisposeAsync();
            await Upstream.DisposeAsync();
        }
    }
}
