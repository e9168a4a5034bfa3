using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>
/// TrySendAsync answers what SendAsync would, with the typed error handed over as a value: the same exception type
/// for the same failure, never thrown; a refusal by a full origin already answered when the call returns; the
/// caller's own cancellation still thrown.
/// </summary>
public sealed class TrySendTests
{
    [Fact]
    public async Task A_success_and_an_http_error_come_back_as_the_outcome_SendAsync_would_give()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{\"a\":1}");
        upstream.Respond("/missing", 404, "{}");
        await using var net = await NetHost.StartAsync(upstream);

        var ok = await net.Client.TrySendAsync(NetRequest.Get("api", "/ok"));
        Assert.True(ok.IsSuccess);
        Assert.Null(ok.Error);
        Assert.Equal(HttpStatusCode.OK, ok.Response.StatusCode);
        Assert.Same(ok.Response, ok.GetResponseOrThrow());

        var missing = await net.Client.TrySendAsync(NetRequest.Get("api", "/missing"));
        Assert.False(missing.IsSuccess);
        Assert.Null(missing.Response);
        var error = Assert.IsType<NotFoundException>(missing.Error);
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Null(error.StackTrace); // handed over, never thrown

        var thrown = await Assert.ThrowsAsync<NotFoundException>(() => net.Client.SendAsync(NetRequest.Get("api", "/missing")));
        Assert.Equal(thrown.Message.Replace(thrown.Url!, ""), error.Message.Replace(error.Url!, ""));
        Assert.Same(error, Assert.Throws<NotFoundException>(() => missing.GetResponseOrThrow()));
    }

    [Fact]
    public async Task A_full_origin_refuses_with_an_outcome_already_answered_when_the_call_returns()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/busy/*", gate);
        upstream.Respond("/late/*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithQueueCapacity(1));

        var onWire = net.Client.SendAsync(NetRequest.Get("api", "/busy/1"));
        await gate.WaitForArrivalsAsync(1);
        var held = net.Client.SendAsync(NetRequest.Get("api", "/busy/2"));

        // The held request is admitted by the facade before the actor sees it, so the very next call is refused.
        for (var i = 0; i < 100; i++)
        {
            var refused = net.Client.TrySendAsync(NetRequest.Get("api", $"/late/{i}"));
            Assert.True(refused.IsCompletedSuccessfully, $"refusal {i} was not answered at once, or was thrown");
            var overloaded = Assert.IsType<OverloadedException>((await refused).Error);
            Assert.Equal(upstream.BaseAddress.GetLeftPart(UriPartial.Authority), overloaded.Origin);
            Assert.Null(overloaded.StackTrace); // never thrown, not even inside the runtime
        }

        // Its message, made only when read, says what was refused and where, with secret query values masked.
        var secret = (await net.Client.TrySendAsync(NetRequest.Get("api", "/late/x?access_token=SECRET-1&page=2"))).Error;
        var message = Assert.IsType<OverloadedException>(secret).Message;
        Assert.Equal(1, ((OverloadedException)secret!).QueueCapacity);
        Assert.StartsWith("GET ", message);
        Assert.Contains("/late/x?", message);
        Assert.Contains("page=2", message);
        Assert.DoesNotContain("SECRET-1", message);
        Assert.EndsWith($"the queue of {upstream.BaseAddress.GetLeftPart(UriPartial.Authority)} is full (1 waiting).", message);
        Assert.Same(message, secret.Message);
        Assert.DoesNotContain("SECRET-1", secret.ToString());

        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await onWire).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
        Assert.True((await net.Client.TrySendAsync(NetRequest.Get("api", "/late/after"))).IsSuccess);
        Assert.Equal(1, upstream.Seen.Count(r => r.Path.StartsWith("/late/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_request_built_wrong_and_one_sent_after_shutdown_are_answered_as_outcomes_never_thrown()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        var net = await NetHost.StartAsync(upstream);

        var unknownClient = await net.Client.TrySendAsync(NetRequest.Get("nobody", "/ok"));
        var invalid = Assert.IsType<InvalidRequestException>(unknownClient.Error);
        Assert.Null(invalid.StackTrace);
        Assert.Contains("nobody", invalid.Message);

        await net.Host.StopAsync();
        var afterShutdown = net.Client.TrySendAsync(NetRequest.Get("api", "/ok"));
        Assert.True(afterShutdown.IsCompletedSuccessfully, "a request after shutdown was not answered at once, or was thrown");
        var shutdown = Assert.IsType<NetShutdownException>((await afterShutdown).Error);
        Assert.Null(shutdown.StackTrace);
        Assert.Equal(0, upstream.Count("/ok"));
        net.Host.Dispose();
    }

    [Fact]
    public async Task The_callers_cancellation_and_a_null_request_are_still_thrown()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/busy/*", gate);
        await using var net = await NetHost.StartAsync(upstream);

        Assert.Throws<ArgumentNullException>(() => { _ = net.Client.TrySendAsync(null!); });

        using var before = new CancellationTokenSource();
        await before.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await net.Client.TrySendAsync(NetRequest.Get("api", "/busy/0"), before.Token));

        using var during = new CancellationTokenSource();
        var pending = net.Client.TrySendAsync(NetRequest.Get("api", "/busy/1"), during.Token);
        await gate.WaitForArrivalsAsync(1);
        Assert.False(pending.IsCompleted);
        await during.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        gate.Open();
    }

    [Fact]
    public async Task Another_INetClient_gets_TrySendAsync_from_its_SendAsync()
    {
        INetClient failing = new FailingClient(new CircuitOpenException(null, "http://api.example", TimeSpan.FromSeconds(1)));
        var outcome = await failing.TrySendAsync(NetRequest.Get("api", "/x"));
        Assert.IsType<CircuitOpenException>(outcome.Error);

        INetClient cancelled = new FailingClient(new OperationCanceledException());
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await cancelled.TrySendAsync(NetRequest.Get("api", "/x")));
    }

    [Fact]
    public void A_default_outcome_holds_neither_and_says_so()
    {
        var empty = default(NetOutcome);
        Assert.False(empty.IsSuccess);
        Assert.Equal("(none)", empty.ToString());
        Assert.Throws<InvalidOperationException>(() => empty.GetResponseOrThrow());
        Assert.Throws<ArgumentNullException>(() => new NetOutcome((NetResponse)null!));
        Assert.Throws<ArgumentNullException>(() => new NetOutcome((NetException)null!));
    }

    private sealed class FailingClient(Exception error) : INetClient
    {
        public Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken = default) =>
            Task.FromException<NetResponse>(error);

        public Task<long> SignInAsync(string realm, TokenSet tokens, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task TerminateSessionAsync(string realm, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
