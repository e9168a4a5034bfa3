using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Foundation;

[Collection(TimingCollection.Name)]
public sealed class CancellationAndTimeoutTests
{
    [Fact]
    public async Task Cancelling_a_queued_request_removes_it_from_the_queue_and_it_is_never_sent()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/hold", gate);
        upstream.Respond("/queued", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1));

        var holder = net.Client.SendAsync(NetRequest.Get("api", "/hold"));
        await gate.WaitForArrivalsAsync(1);
        using var cts = new CancellationTokenSource();
        var queued = net.Client.SendAsync(NetRequest.Get("api", "/queued"), cts.Token);
        var after = net.Client.SendAsync(NetRequest.Get("api", "/queued").WithHeader("X-After", "1"));
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        gate.Open();
        await holder;
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
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/hold", gate);
        upstream.Respond("/queued", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1));

        var holder = net.Client.SendAsync(NetRequest.Get("api", "/hold"));
        await gate.WaitForArrivalsAsync(1);
        var queued = net.Client.SendAsync(NetRequest.Get("api", "/queued").WithTimeout(TimeSpan.FromMilliseconds(300)));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => queued);
        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.Equal(0, error.Attempts);
        gate.Open();
        await holder;
        Assert.Equal(0, upstream.Count("/queued"));
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
}
