using Akka.Actor;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;
using NetActors.Hosting;

namespace NetActors.Tests.Review;

/// <summary>
/// Found by a hostile probe (2026-12-04): what one caller does wrong (a body whose code throws or stalls, a method
/// this client cannot send, a progress reporter that throws) fails that request typed, is not retried and does not
/// count against the origin, so the next caller's request is served. Each test fails on the code before the fix.
/// </summary>
public sealed class CallerFaultRegressionTests
{
    /// <summary>A JSON body whose property getter throws something other than a JSON error.</summary>
    public sealed class BadGetter
    {
        public int A => throw new IOException("getter broke");
    }

    [Fact]
    public async Task A_json_body_whose_getter_throws_fails_typed_and_the_requests_queued_behind_it_are_served()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/held", gate);
        upstream.Respond("/ok/*", 200, "{}");
        upstream.Respond("/json", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithQueueCapacity(20));

        var held = net.Client.SendAsync(NetRequest.Get("api", "/held"));
        await gate.WaitForArrivalsAsync(1);
        var queued = Enumerable.Range(0, 5).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/ok/{i}"))).ToList();
        var bad = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            Capture(net.Client.SendAsync(NetRequest.Post("api", "/json", NetContent.Json(new BadGetter()))))));
        gate.Open();

        Assert.All(bad, e => Assert.Contains("getter broke", Assert.IsType<InvalidRequestException>(e).Message));
        Assert.Equal(HttpStatusCode.OK, (await held.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var served = await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(served, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(0, upstream.Count("/json"));
    }

    [Fact]
    public async Task An_upload_whose_stream_stalls_fails_typed_and_does_not_open_the_circuit_for_other_callers()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/upload", 200, "{}");
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithResponseTimeout(TimeSpan.FromMilliseconds(300))
            .WithMaxConnections(10).WithCircuitBreaker(0.5, 5, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));

        var stalled = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Capture(net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Stream(() => new StallingStream()))))));

        Assert.All(stalled, e => Assert.Contains("stalled", Assert.IsType<InvalidRequestException>(e).Message));
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
    }

    [Fact]
    public async Task A_half_open_probe_whose_body_stalls_does_not_close_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reset", TestUpstream.Abort);
        upstream.Respond("/upload", 200, "{}");
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithResponseTimeout(TimeSpan.FromMilliseconds(300))
            .WithMaxAttempts(1).WithCircuitBreaker(0.5, 2, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200)));
        var events = Events.Collect<NetActors.Resilience.CircuitStateChanged>(net.System);

        // The upstream's own failures open the circuit; after the break it is half-open, the next request its probe.
        for (var i = 0; i < 2; i++)
        {
            Assert.IsType<NetworkException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/reset"))));
        }

        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.HalfOpen));
        var stalled = await Capture(net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Stream(() => new StallingStream()))));
        Assert.IsType<InvalidRequestException>(stalled);

        // The stalled body said nothing of the origin: the circuit did not close on it; a real answer closes it.
        Assert.DoesNotContain(events, e => e.Current == NetActors.Resilience.CircuitState.Closed);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.Closed));
    }

    [Fact]
    public async Task A_half_open_probe_whose_upload_the_server_cuts_off_does_not_close_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reset", TestUpstream.Abort);
        upstream.Map("/upload", async ctx =>
        {
            ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = 1024 * 1024;
            await ctx.Request.Body.CopyToAsync(Stream.Null); // over the limit: Kestrel answers 413 and closes
            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1)
            .WithCircuitBreaker(0.5, 2, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200)));
        var events = Events.Collect<NetActors.Resilience.CircuitStateChanged>(net.System);

        for (var i = 0; i < 2; i++)
        {
            Assert.IsType<NetworkException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/reset"))));
        }

        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.HalfOpen));
        var cut = await Capture(net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Bytes(new byte[64 * 1024 * 1024]))));
        Assert.True(cut is NetworkException or HttpStatusException { StatusCode: HttpStatusCode.RequestEntityTooLarge }, cut?.ToString());

        // A cut-off upload says nothing of the origin, not even that it is healthy: the probe is given back.
        Assert.DoesNotContain(events, e => e.Current == NetActors.Resilience.CircuitState.Closed);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.Closed));
    }

    private sealed class PathHook(string path, TimeSpan delay) : NetActors.Resilience.NetInterceptor
    {
        public override async ValueTask OnRequestAsync(HttpRequestMessage request, NetActors.Resilience.NetInterceptorContext context,
            CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath == path)
            {
                await Task.Delay(delay, CancellationToken.None); // slow user code that ignores its token
            }
        }
    }

    [Fact]
    public async Task A_half_open_probe_whose_hook_outlasts_its_total_timeout_does_not_close_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/fail", TestUpstream.Abort);
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1)
            .WithCircuitBreaker(0.5, 2, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200))
            .WithResponseTimeout(TimeSpan.FromSeconds(5)).WithTotalTimeout(TimeSpan.FromSeconds(10))
            .AddInterceptor(new PathHook("/slow", TimeSpan.FromSeconds(2))));
        var events = Events.Collect<NetActors.Resilience.CircuitStateChanged>(net.System);
        for (var i = 0; i < 2; i++)
        {
            Assert.IsType<NetworkException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/fail"))));
        }

        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.HalfOpen));
        var timedOut = await Capture(net.Client.SendAsync(NetRequest.Get("api", "/slow").WithTimeout(TimeSpan.FromMilliseconds(400))));
        Assert.IsType<NetTimeoutException>(timedOut);

        // Its own budget ran out before anything was sent: no success recorded, the probe given back for the next
        // request, which fails: the circuit opens again, and it was never closed in between.
        Assert.IsType<NetworkException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/fail"))));
        await Eventually.Assert(() => Assert.Equal(2, events.Count(e => e.Current == NetActors.Resilience.CircuitState.Open)));
        Assert.DoesNotContain(events, e => e.Current == NetActors.Resilience.CircuitState.Closed);
        Assert.Equal(0, upstream.Count("/slow"));
    }

    [Fact]
    public async Task Requests_whose_total_budget_runs_out_in_a_hook_do_not_keep_a_failing_origins_circuit_closed()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/fail", TestUpstream.Abort);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1).WithMaxConnections(10)
            .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30))
            .WithResponseTimeout(TimeSpan.FromSeconds(5)).AddInterceptor(new PathHook("/slow", TimeSpan.FromMilliseconds(600))));
        var events = Events.Collect<NetActors.Resilience.CircuitStateChanged>(net.System);

        var stalled = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Capture(net.Client.SendAsync(NetRequest.Get("api", $"/slow?i={i}").WithTimeout(TimeSpan.FromMilliseconds(200))))));
        Assert.All(stalled, e => Assert.IsType<NetTimeoutException>(e));
        for (var i = 0; i < 4; i++)
        {
            Assert.IsType<NetworkException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/fail"))));
        }

        Assert.Equal(0, upstream.Count("/slow"));
        await Eventually.Assert(() => Assert.Contains(events, e => e.Current == NetActors.Resilience.CircuitState.Open));
    }

    [Fact]
    public async Task A_body_stream_that_throws_a_cancellation_of_its_own_fails_typed_once_and_does_not_open_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/upload", 200, "{}");
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(10)
            .WithCircuitBreaker(0.5, 5, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));
        var opened = 0;

        var failed = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Capture(net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Stream(() =>
            {
                Interlocked.Increment(ref opened);
                return new CancellingStream();
            }))))));

        Assert.All(failed, e => Assert.IsType<InvalidRequestException>(e));
        Assert.Equal(10, Volatile.Read(ref opened)); // one attempt each: never retried
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
    }

    [Fact]
    public async Task A_connect_request_is_refused_typed_before_anything_is_sent_and_does_not_open_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(10)
            .WithCircuitBreaker(0.5, 5, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));

        var refused = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Capture(net.Client.SendAsync(new NetRequest("api", HttpMethod.Connect, "/h")))));

        Assert.All(refused, e => Assert.Contains("CONNECT", Assert.IsType<InvalidRequestException>(e).Message));
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        Assert.Equal(["/ok"], upstream.Seen.Select(s => s.Path).ToList());
    }

    [Fact]
    public async Task A_download_whose_progress_reporter_throws_fails_typed_once_and_does_not_open_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var file = new string('x', 200_000);
        upstream.Respond("/file", 200, file, "application/octet-stream");
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(10)
            .WithCircuitBreaker(0.5, 5, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));
        var dir = Directory.CreateTempSubdirectory("netactors-progress-");
        try
        {
            var failed = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Capture(net.Client.DownloadAsync(
                NetRequest.Get("api", "/file").WithoutDeduplication(), Path.Combine(dir.FullName, $"f{i}"),
                new ThrowingProgress()))));

            Assert.All(failed, e => Assert.Contains("progress reporter", Assert.IsType<InvalidRequestException>(e).Message));
            Assert.Equal(10, upstream.Count("/file")); // one attempt each: never retried
            Assert.Empty(dir.GetFiles());
            Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_request_as_text_masks_secret_query_values_and_shows_no_header_value()
    {
        var request = NetRequest.Get("api", "/x?access_token=DEADLETTER-SECRET&page=2")
            .WithHeader("X-Api-Key", "HEADER-SECRET")
            .WithIdempotencyKey("KEY-SECRET");
        var text = request.ToString();

        Assert.DoesNotContain("SECRET", text);
        Assert.Contains("page=2", text);
        Assert.Contains("X-Api-Key", text);
    }

    [Fact]
    public async Task A_header_name_that_carries_a_value_is_not_echoed_in_the_error()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Capture(net.Client.SendAsync(NetRequest.Get("api", "/x").WithHeader("Authorization: Bearer NAME-SECRET", "v")));

        var invalid = Assert.IsType<InvalidRequestException>(error);
        Assert.DoesNotContain("NAME-SECRET", invalid.Message);
        Assert.Contains("Authorization", invalid.Message);
    }

    [Fact]
    public async Task Through_the_handler_a_chunked_post_is_sent_and_a_redirected_request_names_the_uri_that_answered()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/in", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            await TestUpstream.Write(ctx, 200, await reader.ReadToEndAsync());
        });
        upstream.Map("/moved", ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = "/landed";
            return Task.CompletedTask;
        });
        upstream.Respond("/landed", 200, "{}");
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");

        using var post = new HttpRequestMessage(HttpMethod.Post, "in") { Content = new StringContent("{\"a\":1}", Encoding.UTF8, "application/json") };
        post.Headers.TransferEncodingChunked = true;
        using var posted = await http.SendAsync(post);
        using var moved = await http.GetAsync("moved");

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal("{\"a\":1}", await posted.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("/landed", moved.RequestMessage!.RequestUri!.AbsolutePath);
    }

    [Fact]
    public async Task A_server_that_echoes_the_token_in_its_problem_details_does_not_put_it_in_the_error_or_the_log()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/echo", ctx => TestUpstream.Write(ctx, 500,
            "{\"title\":\"boom\",\"detail\":\"echo " + ctx.Request.Headers.Authorization + "\"}", "application/problem+json"));
        var logs = new LogCapture();
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1)
            .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh")), logs);
        await net.Client.SignInAsync("api", new TokenSet("AT-ECHOED-SECRET-1", "RT-1", DateTimeOffset.UtcNow.AddHours(1)));

        var error = Assert.IsType<ServerException>(await Capture(net.Client.SendAsync(NetRequest.Get("api", "/echo"))));

        Assert.Contains("echo Bearer ***", error.Message);
        Assert.DoesNotContain("AT-ECHOED-SECRET-1", error.Message);
        Assert.DoesNotContain("AT-ECHOED-SECRET-1", error.Problem!.Detail);
        Assert.DoesNotContain("AT-ECHOED-SECRET-1", logs.All);
        Assert.Equal("Bearer AT-ECHOED-SECRET-1", upstream.Seen.Single(r => r.Path == "/echo").Headers["Authorization"]);
    }

    private static async Task<Exception?> Capture(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(20));
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>A body whose reads never end until cancelled.</summary>
    private sealed class StallingStream : ReadOnlyBodyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    /// <summary>A non-seekable body of unknown length that is read asynchronously only.</summary>
    private abstract class ReadOnlyBodyStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>A body that gives one byte, then throws a cancellation nobody asked for.</summary>
    private sealed class CancellingStream : ReadOnlyBodyStream
    {
        private bool _gave;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_gave)
            {
                throw new OperationCanceledException();
            }

            _gave = true;
            buffer.Span[0] = (byte)'x';
            return ValueTask.FromResult(1);
        }
    }

    private sealed class ThrowingProgress : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => throw new IOException("progress broke");
    }
}

/// <summary>Found by the same probe: requests asked of the gateway once it is gone are answered, not left to time out.</summary>
public sealed class ShutdownAskRegressionTests
{
    [Fact]
    public async Task Requests_told_or_asked_of_a_stopped_gateway_are_answered_with_a_typed_failure()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/fast", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream);
        var gateway = net.Gateway;
        await gateway.GracefulStop(TimeSpan.FromSeconds(10)); // as while the system stops: the gateway first

        // Each reaches dead letters; the orphan watcher (a system actor, which outlives the user actors while the
        // system stops) answers the sender as the gateway would have.
        var replies = Enumerable.Range(0, 10)
            .Select(_ => gateway.Ask<object>(NetRequest.Get("api", "/fast?access_token=ASK-SECRET"), TimeSpan.FromSeconds(10)))
            .ToList();
        foreach (var reply in replies)
        {
            var error = await Assert.ThrowsAsync<NetRuntimeException>(() => reply);
            Assert.Contains("gateway stopped", error.Message);
            Assert.DoesNotContain("ASK-SECRET", error.Message);
        }

        Assert.Empty(upstream.Seen);
    }
}
