using System.Net;
using Akka.Actor;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Tests.Review;

/// <summary>
/// What the third hostile probe of the origin actor found (2026-12-04), each over a real Kestrel server and each
/// failing on the code before its fix: a slow request hook or a refused upload opening the circuit for everyone,
/// session calls after the gateway stopped waiting for ever, a JSON body's own code holding up the origin's actor,
/// and a body that is not the gzip it claims failing as the runtime's own error.
/// </summary>
public sealed class OriginProbeRegressionTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    private sealed class SlowHook : NetInterceptor
    {
        public override async ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context,
            CancellationToken cancellationToken) =>
            await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None); // slow user code that ignores its token
    }

    [Fact]
    public async Task A_request_hook_slower_than_the_attempt_timeout_fails_its_own_request_and_leaves_the_circuit_closed()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)
                .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)))
            .AddClient("hooked", c => c.WithBaseAddress(upstream.BaseAddress)
                .WithResponseTimeout(TimeSpan.FromMilliseconds(200)).WithTotalTimeout(TimeSpan.FromSeconds(5))
                .AddInterceptor(new SlowHook())));

        for (var i = 0; i < 6; i++)
        {
            var error = await Assert.ThrowsAsync<NetInterceptorException>(() => net.Client.SendAsync(NetRequest.Get("hooked", $"/ok?i={i}")).WaitAsync(Safety));
            Assert.IsType<TimeoutException>(error.InnerException);
            Assert.Equal(1, error.Attempts); // not retried: the hook's fault
        }

        Assert.Equal(0, upstream.Count("/ok")); // nothing of "hooked" reached the server: the origin is healthy
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
    }

    [Fact]
    public async Task Uploads_a_server_cuts_off_mid_body_fail_their_caller_and_leave_the_circuit_closed_for_others()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/upload", async ctx =>
        {
            ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = 1024 * 1024;
            await ctx.Request.Body.CopyToAsync(Stream.Null); // over the limit: Kestrel answers 413 and closes
            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));

        for (var i = 0; i < 2; i++)
        {
            // PUT is idempotent: each is tried max-attempts = 3 times, each attempt cut off while its body is sent.
            var error = await Record.ExceptionAsync(() => net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Bytes(new byte[64 * 1024 * 1024]))).WaitAsync(Safety));
            Assert.True(error is NetworkException or HttpStatusException { StatusCode: HttpStatusCode.RequestEntityTooLarge }, error?.ToString());
        }

        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
    }

    [Theory]
    [InlineData("stopped-gateway")]
    [InlineData("host-stopped")]
    public async Task Session_calls_after_the_gateway_is_gone_are_answered(string how)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/fast", 200, "{}");
        var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(r => r.WithRefresher((_, _) => Task.FromResult(new TokenSet("a-token-1234567", "r"))))));
        await net.Client.SignInAsync("api", new TokenSet("first-token-123456", "r1"));
        var client = net.Client;
        if (how == "stopped-gateway")
        {
            await net.Gateway.GracefulStop(TimeSpan.FromSeconds(10)); // as while the system stops: the gateway first
        }
        else
        {
            await net.Host.StopAsync();
        }

        try
        {
            var signIn = await Record.ExceptionAsync(() => client.SignInAsync("api", new TokenSet("second-token-123456", "r2")).WaitAsync(Safety));
            var terminate = await Record.ExceptionAsync(() => client.TerminateSessionAsync("api").WaitAsync(Safety));

            Assert.True(signIn is NetShutdownException or NetRuntimeException, signIn?.ToString() ?? "signed in");
            Assert.True(terminate is NetShutdownException or NetRuntimeException, terminate?.ToString() ?? "terminated");
        }
        finally
        {
            if (how == "stopped-gateway")
            {
                await net.DisposeAsync();
            }
            else
            {
                net.Host.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_retry_classifier_that_blocks_the_origins_actor_is_logged_as_a_warning()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/fail", 500, "{}");
        var logs = new LogCapture();
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryClassifier(_ =>
        {
            SpinWait.SpinUntil(() => false, TimeSpan.FromMilliseconds(120)); // user code that blocks: the subject of the test, not a synchronisation
            return false;
        }), logs);

        await Assert.ThrowsAnyAsync<HttpStatusException>(() => net.Client.SendAsync(NetRequest.Get("api", "/fail")).WaitAsync(Safety));

        await Eventually.Assert(() => Assert.Contains(logs.Lines, l => l.Contains("retry classifier of client api took", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_body_that_is_not_the_gzip_it_claims_fails_as_a_format_problem()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/gz", async ctx =>
        {
            ctx.Response.Headers.ContentEncoding = "gzip";
            ctx.Response.ContentType = "application/json";
            await ctx.Response.Body.WriteAsync("this is not gzip at all, not even close"u8.ToArray());
        });
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.SendAsync(NetRequest.Get("api", "/gz")).WaitAsync(Safety));

        Assert.Contains("Content-Encoding", error.Message);
    }
}
