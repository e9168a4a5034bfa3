using System.IO.Compression;
using System.Net;
using System.Text;
using Akka.Actor;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Gateway;
using NetActors.Hosts;
using NetActors.Resilience;

namespace NetActors.Tests.Hosts;

/// <summary>
/// <see cref="INetClient.SendStreamAsync"/>: the caller has the headers while the server still holds the body, the
/// body reads from the connection, and the origin's slot stays taken until the body is read to its end or disposed.
/// </summary>
public sealed class StreamedResponseTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Headers_arrive_while_the_server_holds_the_body_and_the_body_reads_from_the_connection()
    {
        await using var origin = await StreamOrigin.StartAsync();

        await using var response = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("yes", response.Headers.GetValues("X-Streamed").Single());
        Assert.False(origin.ServerSawStreamEnd.IsCompleted); // the server still holds the body at its gate
        Assert.Equal("head-", await ReadAsync(response.Body, 5));
        origin.Gate.Open();
        Assert.Equal("tail", await new StreamReader(response.Body).ReadToEndAsync().WaitAsync(Safety));
    }

    [Fact]
    public async Task The_slot_stays_taken_until_the_caller_disposes_the_body_then_the_queued_request_goes()
    {
        await using var origin = await StreamOrigin.StartAsync();
        var ledger = origin.Ledger;
        using var metrics = new MetricsCapture(origin.Net.Services);

        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        var next = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, ledger.Waiting)); // admitted, and queued behind the stream

        Assert.Single(ledger.InFlight);
        metrics.Sample();
        Assert.Equal(1, metrics.All.Last(m => m.Instrument == "netactors.origin.active_requests").Value);
        Assert.False(next.IsCompleted);
        Assert.Equal(0, origin.Upstream.Count("/ok"));

        await streamed.DisposeAsync();
        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(Safety)).StatusCode);
        await origin.ServerSawStreamEnd.WaitAsync(Safety); // the unread body's connection was closed, not kept
        await Eventually.Assert(() => Assert.Empty(ledger.Members));
        Assert.Equal(0, ledger.Admitted);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => streamed.Body.ReadAsync(new byte[1]).AsTask());
    }

    [Fact]
    public async Task Reading_the_body_to_its_end_frees_the_slot_without_dispose()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();

        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        Assert.Equal("head-tail", await new StreamReader(streamed.Body).ReadToEndAsync().WaitAsync(Safety));

        Assert.Equal(HttpStatusCode.OK, (await origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, await streamed.Body.ReadAsync(new byte[1])); // read to its end: a further read is the end again
    }

    [Fact]
    public async Task Cancelling_the_request_while_the_body_is_read_aborts_the_read_and_frees_the_slot()
    {
        await using var origin = await StreamOrigin.StartAsync();
        using var cts = new CancellationTokenSource();
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"), cts.Token).WaitAsync(Safety);
        Assert.Equal("head-", await ReadAsync(streamed.Body, 5));

        var pending = streamed.Body.ReadAsync(new byte[16]).AsTask(); // waits for the held body
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Safety));
        await origin.ServerSawStreamEnd.WaitAsync(Safety);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.InFlight));
        Assert.Equal(HttpStatusCode.OK, (await origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
    }

    [Fact]
    public async Task Cancelling_one_read_ends_the_stream_and_frees_the_slot()
    {
        await using var origin = await StreamOrigin.StartAsync();
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        Assert.Equal("head-", await ReadAsync(streamed.Body, 5));
        using var read = new CancellationTokenSource();

        var pending = streamed.Body.ReadAsync(new byte[16], read.Token).AsTask();
        read.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Safety));
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.InFlight));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => streamed.Body.ReadAsync(new byte[1]).AsTask());
    }

    [Fact]
    public async Task A_request_cancelled_before_it_is_sent_never_reaches_the_server()
    {
        await using var origin = await StreamOrigin.StartAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"), new CancellationToken(canceled: true)));

        Assert.Equal(0, origin.Upstream.Count("/stream"));
        Assert.Empty(origin.Ledger.Members);
    }

    [Fact]
    public async Task Cancelling_while_waiting_for_the_headers_cancels_the_request_and_frees_the_slot()
    {
        await using var origin = await StreamOrigin.StartAsync();
        using var cts = new CancellationTokenSource();

        var streamed = origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/no-headers-yet"), cts.Token);
        await origin.Gate.WaitForArrivalsAsync(1);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => streamed.WaitAsync(Safety));
        Assert.Equal(HttpStatusCode.OK, (await origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    [Fact]
    public async Task A_connection_reset_mid_body_throws_a_network_exception_from_read_and_is_not_retried()
    {
        await using var origin = await StreamOrigin.StartAsync();
        using var metrics = new MetricsCapture(origin.Net.Services);

        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/reset-mid-body")).WaitAsync(Safety);
        Assert.Equal("head-", await ReadAsync(streamed.Body, 5));
        origin.Gate.Open();
        var error = await Assert.ThrowsAsync<NetworkException>(() => new StreamReader(streamed.Body).ReadToEndAsync().WaitAsync(Safety));

        Assert.Contains("streamed response", error.Message);
        Assert.Equal(1, origin.Upstream.Count("/reset-mid-body")); // the caller had the headers: no retry
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(CircuitState.Closed, origin.Ledger.Breaker.State);
        // The attempt counted as a success when its headers arrived; the body's failure is the caller's stream's.
        var outcome = Assert.Single(metrics.All, m => m.Instrument == "netactors.client.request.duration");
        Assert.Equal("success", outcome.Tags["netactors.outcome"]);
        Assert.Equal("2xx", outcome.Tags["http.response.status_class"]);
        Assert.Equal(1, metrics.Sum("netactors.client.attempts"));
    }

    [Fact]
    public async Task A_body_past_the_stream_limit_fails_typed_from_read_and_a_declared_one_before_the_headers()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();

        await using var chunked = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream").WithMaxStreamedBytes(6)).WaitAsync(Safety);
        var tooLarge = await Assert.ThrowsAsync<ResponseTooLargeException>(() => chunked.Body.CopyToAsync(Stream.Null).WaitAsync(Safety));
        Assert.Equal(6, tooLarge.Limit);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));

        var declared = await Assert.ThrowsAsync<ResponseTooLargeException>(() =>
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/sized").WithMaxStreamedBytes(6)).WaitAsync(Safety));
        Assert.Equal(6, declared.Limit);
        await using var within = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/sized").WithMaxStreamedBytes(9)).WaitAsync(Safety);
        Assert.Equal("123456789", await new StreamReader(within.Body).ReadToEndAsync());
    }

    [Fact]
    public async Task A_failure_before_the_headers_is_retried_and_an_error_status_is_thrown_as_for_a_buffered_request()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithRetryDelays(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(10)));
        var calls = 0;
        origin.Upstream.Map("/flaky", ctx => Interlocked.Increment(ref calls) == 1
            ? TestUpstream.Write(ctx, 503, null)
            : TestUpstream.Write(ctx, 200, "fine", "text/plain"));
        origin.Upstream.Respond("/missing", 404, "{\"title\":\"no\"}", "application/problem+json");

        await using var retried = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/flaky")).WaitAsync(Safety);
        Assert.Equal(2, retried.Attempts);
        Assert.Equal("fine", await new StreamReader(retried.Body).ReadToEndAsync());

        await Assert.ThrowsAsync<NotFoundException>(() => origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/missing")).WaitAsync(Safety));
        await using var allowed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/missing") with { AllowErrorStatus = true }).WaitAsync(Safety);
        Assert.Equal(HttpStatusCode.NotFound, allowed.StatusCode);
        Assert.Equal("{\"title\":\"no\"}", await new StreamReader(allowed.Body).ReadToEndAsync());
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    [Fact]
    public async Task Identical_streamed_requests_are_not_shared_and_bypass_the_cache()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithCache().WithMaxConnections(2));
        origin.Upstream.Map("/cacheable", ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=60";
            return TestUpstream.Write(ctx, 200, "cached?", "text/plain");
        });
        await origin.Net.Client.SendAsync(NetRequest.Get("api", "/cacheable")); // stored in the cache

        var both = await Task.WhenAll(
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/cacheable")),
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/cacheable"))).WaitAsync(Safety);
        foreach (var streamed in both)
        {
            Assert.Equal("cached?", await new StreamReader(streamed.Body).ReadToEndAsync());
            await streamed.DisposeAsync();
        }

        Assert.Equal(3, origin.Upstream.Count("/cacheable"));
    }

    [Fact]
    public async Task A_gzip_body_is_decoded_as_it_is_read()
    {
        await using var origin = await StreamOrigin.StartAsync();
        var text = string.Concat(Enumerable.Repeat("streamed and compressed ", 200));
        origin.Upstream.Map("/gzip", async ctx =>
        {
            using var buffer = new MemoryStream();
            await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                await gzip.WriteAsync(Encoding.UTF8.GetBytes(text));
            }

            ctx.Response.Headers.ContentEncoding = "gzip";
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.Body.WriteAsync(buffer.ToArray());
        });

        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/gzip")).WaitAsync(Safety);

        Assert.Equal(text, await new StreamReader(streamed.Body).ReadToEndAsync());
        Assert.Null(streamed.ContentHeaders?.ContentEncoding.FirstOrDefault());
    }

    [Fact]
    public async Task A_401_before_the_headers_refreshes_the_token_once_and_the_retry_streams()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.ProtectedHandler = ctx => TestUpstream.Write(ctx, 200, "secret stream", "text/plain");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))));
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: false));

        await using var streamed = await net.Client.SendStreamAsync(NetRequest.Get("api", "/api/file")).WaitAsync(Safety);

        Assert.Equal("secret stream", await new StreamReader(streamed.Body).ReadToEndAsync());
        Assert.Equal(2, streamed.Attempts);
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task A_host_actor_crash_while_a_body_is_read_keeps_its_slot_counted_until_it_is_disposed()
    {
        await using var origin = await StreamOrigin.StartAsync();
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);

        origin.Host.Actor.Tell(new InjectFault("a bug in the host actor (test)"));
        var next = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, origin.Ledger.Waiting));
        Assert.Single(origin.Ledger.InFlight);
        Assert.Equal("head-", await ReadAsync(streamed.Body, 5)); // the stream outlives the restart

        await streamed.DisposeAsync();
        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(Safety)).StatusCode);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    [Fact]
    public async Task Shutdown_aborts_an_open_stream_at_the_drain_timeout_and_its_read_fails_typed()
    {
        var origin = await StreamOrigin.StartAsync(hocon: "netactors.shutdown.drain-timeout = 200ms");
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);

        await origin.Net.Host.StopAsync().WaitAsync(Safety);

        await Assert.ThrowsAsync<NetShutdownException>(() => streamed.Body.ReadAsync(new byte[16]).AsTask().WaitAsync(Safety));
        await origin.ServerSawStreamEnd.WaitAsync(Safety);
        await origin.DisposeAsync();
    }

    [Fact]
    public async Task An_inetclient_decorator_that_does_not_stream_gets_the_buffered_response_as_a_stream()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();
        INetClient decorator = new BufferedOnly(origin.Net.Client);

        await using var response = await decorator.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);

        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members)); // buffered: freed before its body is read
        Assert.Equal("head-tail", await new StreamReader(response.Body).ReadToEndAsync());
    }

    /// <summary>An <see cref="INetClient"/> written before streaming existed: it implements only the buffered calls.</summary>
    private sealed class BufferedOnly(INetClient inner) : INetClient
    {
        public Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken = default) =>
            inner.SendAsync(request, cancellationToken);

        public Task<long> SignInAsync(string realm, TokenSet tokens, CancellationToken cancellationToken = default) =>
            inner.SignInAsync(realm, tokens, cancellationToken);

        public Task TerminateSessionAsync(string realm, CancellationToken cancellationToken = default) =>
            inner.TerminateSessionAsync(realm, cancellationToken);
    }

    private static async Task<string> ReadAsync(Stream body, int bytes)
    {
        var buffer = new byte[bytes];
        await body.ReadExactlyAsync(buffer).AsTask().WaitAsync(Safety);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>
    /// The race behind a rare failure of the chunked-forever test: the stream ends (here the caller cancels) while a read
    /// is already past the stream's own check, the end disposes the response, and the disposed connection stream reads
    /// 0. The caller must get the end's error, never a clean end of a body that was cut.
    /// </summary>
    [Fact]
    public async Task A_read_that_races_the_end_of_the_stream_gets_its_error_not_an_end_of_body()
    {
        using var caller = new CancellationTokenSource();
        var ex = Exchange.ForTask(NetRequest.Get("api", "/cut"), caller.Token);
        using var message = new HttpRequestMessage();
        using var response = new HttpResponseMessage();
        var inner = new EndingStream(caller);
        using var body = new StreamedBody(ex, message, response, inner, ActorRefs.Nobody);
        body.Arm(caller.Token);

        await Assert.ThrowsAsync<OperationCanceledException>(() => body.ReadAsync(new byte[16]).AsTask());
        Assert.Throws<OperationCanceledException>(() => body.Read(new byte[16]));
        Assert.True(body.Ended);
        Assert.Equal(1, inner.Reads);
    }

    /// <summary>A connection stream that, on its first read, lets the stream's end happen, then reads 0 as a disposed one does.</summary>
    private sealed class EndingStream(CancellationTokenSource end) : Stream
    {
        public int Reads { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Reads++;
            end.Cancel();
            return 0;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Read(buffer.ToArray(), 0, buffer.Length));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// An origin with one connection whose <c>/stream</c> sends its headers and <c>head-</c> at once, then holds the
/// rest of the body (<c>tail</c>) at <see cref="Gate"/>; <c>/ok</c> answers at once.
/// </summary>
internal sealed class StreamOrigin : IAsyncDisposable
{
    private readonly TaskCompletionSource _streamEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TestUpstream Upstream { get; private set; } = null!;

    public NetHost Net { get; private set; } = null!;

    public Gate Gate { get; } = new();

    /// <summary>Completes when the server saw a <c>/stream</c> request end (its body sent, or its connection closed).</summary>
    public Task ServerSawStreamEnd => _streamEnded.Task;

    public HostEntry Host => Net.Services.GetRequiredService<NetActorsRuntime>().Router!.DeclaredHost(Origins.KeyOf(Upstream.BaseAddress))!;

    public AdmissionLedger Ledger => Host.Ledger;

    public static async Task<StreamOrigin> StartAsync(Action<ClientBuilder>? client = null, string? hocon = null,
        Action<IServiceCollection>? services = null)
    {
        var origin = new StreamOrigin { Upstream = await TestUpstream.StartAsync() };
        origin.Upstream.Map("/stream", origin.StreamAsync);
        origin.Upstream.MapGated("/no-headers-yet", origin.Gate);
        origin.Upstream.Respond("/ok", 200, "{}");
        origin.Upstream.Respond("/warm-up", 200, "{}");
        origin.Upstream.Map("/sized", ctx =>
        {
            ctx.Response.ContentLength = 9;
            return TestUpstream.Write(ctx, 200, "123456789", "text/plain");
        });
        origin.Upstream.Map("/reset-mid-body", async ctx =>
        {
            await StartBodyAsync(ctx);
            await origin.Gate.PassAsync(ctx); // the client has the headers: a reset now is a reset mid-body
            ctx.Abort();
        });
        origin.Net = await NetHost.StartAsync(n =>
        {
            if (hocon is not null)
            {
                n.WithHocon(hocon);
            }

            n.AddClient("api", c =>
            {
                c.WithBaseAddress(origin.Upstream.BaseAddress).WithMaxConnections(1);
                client?.Invoke(c);
            });
        }, services: services);
        // The gateway has started (its router is published) once the warm-up is answered; the host actor does the
        // warm-up's bookkeeping after its caller has the response, so the test's own metrics start once it is done.
        using (var warmUp = new MetricsCapture(origin.Net.Services))
        {
            await origin.Net.Client.SendAsync(NetRequest.Get("api", "/warm-up"));
            await Eventually.Assert(() => Assert.Contains(warmUp.All, m => m.Instrument == "netactors.client.request.duration"));
        }

        return origin;
    }

    private async Task StreamAsync(HttpContext ctx)
    {
        try
        {
            await StartBodyAsync(ctx);
            await Gate.PassAsync(ctx);
            await ctx.Response.WriteAsync("tail");
        }
        finally
        {
            _streamEnded.TrySetResult();
        }
    }

    /// <summary>The headers and the first bytes of the body, on the wire now.</summary>
    private static async Task StartBodyAsync(HttpContext ctx)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain";
        ctx.Response.Headers["X-Streamed"] = "yes";
        await ctx.Response.WriteAsync("head-");
        await ctx.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Net.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
