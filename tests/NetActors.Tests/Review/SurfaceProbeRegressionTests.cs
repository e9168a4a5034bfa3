using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Tests.Auth;

namespace NetActors.Tests.Review;

/// <summary>
/// What the third hostile probe of the public surface found (2026-12-04), over real Kestrel servers, each failing on
/// the code before its fix: secrets leaving their origin (a token endpoint's redirect, a next page elsewhere, a
/// password in an invalid URL, an echoed OAuth error code), requests and startups without an outcome, raw exceptions
/// where typed ones are promised, and settings that passed validation and then broke an origin or a realm.
/// </summary>
public sealed class SurfaceProbeRegressionTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(307)]
    [InlineData(308)]
    [InlineData(302)]
    public async Task A_token_endpoint_redirect_to_another_origin_does_not_take_the_refresh_token_there(int status)
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var thief = await TestUpstream.StartAsync();
        thief.Map("*", ctx => TestUpstream.Write(ctx, 200, """{"access_token":"stolen-access-123456","expires_in":3600}"""));
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartAsync(upstream, realm: a => a.WithRefreshTimeout(TimeSpan.FromSeconds(2)));
        var session = tokens.SignIn(expired: true, tellExpiry: false);
        await net.Client.SignInAsync("api", session);
        tokens.RefreshOverride = ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.Location = thief.BaseAddress + "steal";
            return Task.FromResult(true);
        };

        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(3))).AsTask().WaitAsync(Safety);

        Assert.Empty(thief.Seen); // neither the refresh token's POST nor a GET turned from it
        Assert.NotNull(outcome.Error);
        Assert.DoesNotContain(upstream.Seen, s => s.Headers.TryGetValue("Authorization", out var a) && a.Contains("stolen", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_oauth_token_endpoint_redirect_to_another_origin_does_not_take_the_client_secret_there()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var thief = await TestUpstream.StartAsync();
        thief.Map("*", ctx => TestUpstream.Write(ctx, 500, "{}"));
        upstream.Map("/oauth/token", ctx =>
        {
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = thief.BaseAddress + "steal";
            return Task.CompletedTask;
        });
        upstream.Map("/api/*", ctx => TestUpstream.Write(ctx, 200, "{}"));
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthClientCredentials("/oauth/token", "svc", "CLIENTSECRET42").WithClientAuthentication(false)
                .WithRefreshTimeout(TimeSpan.FromSeconds(2)))));

        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(3))).AsTask().WaitAsync(Safety);

        Assert.NotNull(outcome.Error);
        Assert.Empty(thief.Seen);
    }

    [Fact]
    public async Task A_next_page_on_another_origin_gets_none_of_the_callers_or_the_clients_credential_headers()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        other.Map("*", ctx => TestUpstream.Write(ctx, 200, "[3]"));
        upstream.Map("/list", ctx =>
        {
            ctx.Response.Headers["Link"] = $"<{other.BaseAddress}next>; rel=\"next\"";
            return TestUpstream.Write(ctx, 200, "[1,2]");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithHeader("Cookie", "sid=COOKIESECRET"));

        var items = new List<int>();
        var first = NetRequest.Get("api", "/list").WithHeader("X-Api-Key", "KEYSECRET")
            .WithHeader("Authorization", "Basic QUxJQ0U6UEFTUw==").WithHeader("X-Trace-Note", "kept");
        await foreach (var i in net.Client.PaginateAsync<int>(first, Paging.LinkHeader()).WithCancellation(CancellationToken.None))
        {
            items.Add(i);
        }

        Assert.Equal([1, 2, 3], items);
        var home = upstream.Seen.Single(s => s.Path == "/list");
        Assert.Equal("KEYSECRET", home.Headers["X-Api-Key"]); // its own origin gets them all
        Assert.Equal("sid=COOKIESECRET", home.Headers["Cookie"]);
        var seen = other.Seen.Single();
        Assert.False(seen.Headers.ContainsKey("X-Api-Key"));
        Assert.False(seen.Headers.ContainsKey("Cookie"));
        Assert.False(seen.Headers.ContainsKey("Authorization"));
        Assert.Equal("kept", seen.Headers["X-Trace-Note"]);
    }

    [Fact]
    public async Task A_next_page_named_after_a_redirect_to_another_origin_gets_no_credential_headers_there()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var cdn = await TestUpstream.StartAsync();
        upstream.Map("/list", ctx =>
        {
            ctx.Response.Headers.Location = cdn.BaseAddress + "list";
            return TestUpstream.Write(ctx, 302, null);
        });
        cdn.Map("/list", ctx =>
        {
            ctx.Response.Headers["Link"] = $"<{cdn.BaseAddress}page2>; rel=\"next\"";
            return TestUpstream.Write(ctx, 200, "[1,2]");
        });
        cdn.Map("/page2", ctx => TestUpstream.Write(ctx, 200, "[3]"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithHeader("Cookie", "sid=COOKIESECRET"));

        var items = new List<int>();
        var first = NetRequest.Get("api", "/list").WithHeader("Authorization", "Basic QUxJQ0U6UEFTUw==");
        await foreach (var i in net.Client.PaginateAsync<int>(first, Paging.LinkHeader()))
        {
            items.Add(i);
        }

        Assert.Equal([1, 2, 3], items);
        Assert.Equal("Basic QUxJQ0U6UEFTUw==", upstream.Seen.Single().Headers["Authorization"]);
        Assert.All(cdn.Seen, s =>
        {
            Assert.False(s.Headers.ContainsKey("Authorization"), s.Path);
            Assert.False(s.Headers.ContainsKey("Cookie"), s.Path);
        });
        Assert.Equal(2, cdn.Seen.Count);
    }

    [Fact]
    public async Task The_clients_default_credential_headers_go_to_its_realms_other_origins()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var uploads = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        uploads.Respond("/files", 200, "{}");
        await using var net = await AuthTestHost.StartAsync(upstream, client: c => c.WithHeader("X-Api-Key", "KEYSECRET"),
            realm: r => r.WithOrigins(uploads.Origin));
        await net.Client.SignInAsync("api", tokens.SignIn());

        await net.Client.SendAsync(NetRequest.Get("api", uploads.BaseAddress + "files")).WaitAsync(Safety);

        var seen = uploads.Seen.Single();
        Assert.Equal("KEYSECRET", seen.Headers["X-Api-Key"]);
        Assert.StartsWith("Bearer ", seen.Headers["Authorization"]);
    }

    [Theory]
    [InlineData("http:/\\admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData("http:\\\\admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData("//admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData(" http://admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData("\thttp://admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData("\nhttp://admin:hunter2pw@127.0.0.1:99999/x")]
    [InlineData(" //admin:hunter2pw@127.0.0.1:99999/x")]
    public void Other_spellings_of_user_info_in_a_url_that_does_not_parse_never_show_the_password(string url)
    {
        Assert.DoesNotContain("hunter2pw", RedactionSettings.Default.Url(url));
        Assert.DoesNotContain("hunter2pw", NetRequest.Get("api", url).ToString());
    }

    [Fact]
    public async Task The_clients_default_credential_headers_do_not_go_to_an_absolute_url_on_another_origin()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        upstream.Respond("/home", 200, "{}");
        other.Respond("/away", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithHeader("X-Api-Key", "KEYSECRET").WithHeader("X-Tenant", "t1"));

        await net.Client.SendAsync(NetRequest.Get("api", "/home")).WaitAsync(Safety);
        await net.Client.SendAsync(NetRequest.Get("api", other.BaseAddress + "away")).WaitAsync(Safety);

        Assert.Equal("KEYSECRET", upstream.Seen.Single().Headers["X-Api-Key"]);
        var away = other.Seen.Single();
        Assert.False(away.Headers.ContainsKey("X-Api-Key"));
        Assert.Equal("t1", away.Headers["X-Tenant"]); // headers that are not credentials still go
    }

    [Theory]
    [InlineData("<http://[::1>; rel=\"next\"")]
    [InlineData("<http://127.0.0.1:99999/x>; rel=\"next\"")]
    [InlineData("<ftp://127.0.0.1/x>; rel=\"next\"")]
    public async Task A_malformed_next_link_fails_the_enumeration_with_a_format_error(string link)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/list", ctx =>
        {
            ctx.Response.Headers["Link"] = link;
            return TestUpstream.Write(ctx, 200, "[1,2]");
        });
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var _ in net.Client.PaginateAsync<int>(NetRequest.Get("api", "/list"), Paging.LinkHeader()))
            {
            }
        });

        Assert.IsType<ResponseFormatException>(error);
    }

    [Fact]
    public async Task An_invalid_absolute_url_with_user_info_never_shows_the_password()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var net = await NetHost.StartAsync(upstream);
        var request = NetRequest.Get("api", "http://admin:hunter2pw@127.0.0.1:99999/x");

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(request).WaitAsync(Safety));

        Assert.DoesNotContain("hunter2pw", error.Message);
        Assert.DoesNotContain("hunter2pw", request.ToString());
        Assert.Contains("127.0.0.1:99999/x", error.Message); // the rest of the URL is still there to debug with
    }

    private sealed class Warmup(INetClient net) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken) =>
            await net.SendAsync(NetRequest.Get("api", "/ok").WithTimeout(TimeSpan.FromSeconds(2)), cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_hosted_service_that_sends_before_the_runtime_started_gets_a_timeout_and_startup_ends()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddHostedService<Warmup>();
        builder.Services.AddNetActors(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));
        using var host = builder.Build();

        var error = await Record.ExceptionAsync(() => host.StartAsync().WaitAsync(Safety));

        // The warm-up waits for a runtime that starts after it: its 2 s total timeout ends the wait, typed.
        Assert.IsType<NetTimeoutException>(error);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_request_sent_before_a_start_that_fails_gets_its_timeout()
    {
        await using var upstream = await TestUpstream.StartAsync();
        using var host = NetHost.Build(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(0)));
        var client = host.Services.GetRequiredService<INetClient>();

        var early = client.SendAsync(NetRequest.Get("api", "/ok").WithTimeout(TimeSpan.FromSeconds(2)));
        await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync()); // invalid max-connections: startup fails
        await host.StopAsync();

        await Assert.ThrowsAsync<NetTimeoutException>(() => early.WaitAsync(Safety));
    }

    private sealed class ThrowingStream : Stream
    {
        private int _reads;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_reads++ == 0)
            {
                buffer[offset] = (byte)'x';
                return 1;
            }

            throw new IOException("the caller's disk failed");
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class ThrowingContent : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            throw new InvalidOperationException("custom content failed");

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Through_the_handler_a_body_that_throws_while_it_is_buffered_is_an_http_request_exception_around_a_typed_error(bool custom)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("*", ctx => TestUpstream.Write(ctx, 200, "{}"));
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");
        HttpContent Body() => custom ? new ThrowingContent() : new StreamContent(new ThrowingStream());

        var error = await Record.ExceptionAsync(() => http.PostAsync("in", Body()).WaitAsync(Safety));

        var wrapped = Assert.IsType<HttpRequestException>(error);
        Assert.IsType<InvalidRequestException>(wrapped.InnerException);
        Assert.Empty(upstream.Seen);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("after").WaitAsync(Safety)).StatusCode); // still serving
    }

    [Fact]
    public async Task A_refresh_timeout_no_request_can_carry_is_refused_at_startup()
    {
        await using var upstream = await TestUpstream.StartAsync();
        _ = new TokenServer().Install(upstream);

        var error = await Record.ExceptionAsync(async () =>
        {
            await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r.WithRefreshTimeout(TimeSpan.FromDays(60)));
        });

        var invalid = Assert.IsType<NetActorsConfigurationException>(error);
        Assert.Contains("refresh-timeout", invalid.Message);
    }

    [Fact]
    public async Task A_rate_too_small_for_any_timer_holds_its_requests_without_crashing_the_origin()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("*", ctx => TestUpstream.Write(ctx, 200, "{}"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRateLimit(1e-300));

        var outcomes = new List<NetOutcome>();
        for (var i = 0; i < 3; i++)
        {
            outcomes.Add(await net.Client.TrySendAsync(NetRequest.Get("api", $"/x{i}").WithTimeout(TimeSpan.FromSeconds(1))).AsTask().WaitAsync(Safety));
        }

        Assert.Null(outcomes[0].Error); // the burst's one permit
        Assert.All(outcomes.Skip(1), o => Assert.True(o.Error is NetTimeoutException or RateLimitedException, o.Error?.ToString() ?? "200"));
        Assert.Single(upstream.Seen); // the limit held: no restarted actor with a fresh bucket let another through
    }

    [Fact]
    public async Task An_oauth_error_code_that_echoes_the_refresh_token_is_not_repeated()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var logs = new LogCapture();
        SessionExpired? expired = null;
        await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r.OnSessionExpired(e => expired = e), logs: logs);
        var session = tokens.SignIn(expired: true, tellExpiry: false);
        await net.Client.SignInAsync("api", session);
        tokens.RefreshOverride = async ctx =>
        {
            ctx.Response.StatusCode = 400;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("{\"error\":\"" + session.RefreshToken + "\"}");
            return true;
        };

        var error = await Assert.ThrowsAsync<SessionExpiredException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/x")).WaitAsync(Safety));
        await Eventually.Assert(() => Assert.NotNull(expired));
        await Eventually.Assert(() => Assert.Contains(logs.Lines, l => l.Contains("unregistered error code", StringComparison.Ordinal)));

        Assert.DoesNotContain(session.RefreshToken!, error.ToString());
        Assert.DoesNotContain(session.RefreshToken!, logs.All);
        Assert.DoesNotContain(session.RefreshToken!, expired!.ToString());
    }

    [Fact]
    public void Form_content_of_null_is_an_argument_null_exception() =>
        Assert.Throws<ArgumentNullException>(() => NetContent.Form(null!));

    [Theory]
    [InlineData("api \"v2\"")]
    [InlineData("back\\slash")]
    [InlineData("line\nbreak")]
    public void A_client_or_realm_name_that_cannot_be_a_hocon_key_is_refused_when_it_is_added(string name)
    {
        var client = Assert.ThrowsAny<ArgumentException>(() => new NetActorsBuilder().AddClient(name));
        var realm = Assert.ThrowsAny<ArgumentException>(() => new NetActorsBuilder().AddAuthRealm(name));

        Assert.Contains("double quote", client.Message);
        Assert.Contains("double quote", realm.Message);
    }
}
