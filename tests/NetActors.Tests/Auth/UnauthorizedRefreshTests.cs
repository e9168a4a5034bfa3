using System.Net;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Tests.Auth;

/// <summary>
/// No refresh for a 401 that a refresh cannot cure, against a real Kestrel server with rotating refresh tokens
/// (a refresh token presented twice would end the session with invalid_grant).
/// </summary>
public sealed class UnauthorizedRefreshTests
{
    private static void MapAlways401(TestUpstream upstream, string path, string challenge) =>
        upstream.Map(path, ctx =>
        {
            ctx.Response.StatusCode = 401;
            ctx.Response.Headers.WWWAuthenticate = challenge;
            return Task.CompletedTask;
        });

    [Fact]
    public async Task Three_calls_to_an_always_401_endpoint_between_good_requests_cost_at_most_one_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        MapAlways401(upstream, "/admin/*", "Bearer realm=\"api\"");
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", $"/api/good/{i}"))).StatusCode);
            await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/admin/{i}")));
        }

        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/good/last"))).StatusCode);
        Assert.True(tokens.RefreshCalls <= 1, $"{tokens.RefreshCalls} refreshes");
        Assert.Equal(0, tokens.Unauthorized);
    }

    [Fact]
    public async Task A_POST_without_an_idempotency_key_is_not_resent_after_a_401_and_the_next_request_has_the_refreshed_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var posts = 0;
        tokens.ProtectedHandler = ctx =>
        {
            Interlocked.Increment(ref posts);
            return TestUpstream.Write(ctx, 201, "{}");
        };
        // The access token has expired upstream, and the client does not know it.
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false);

        var refused = await Assert.ThrowsAsync<UnauthorizedException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/api/orders", NetContent.Json(new { order = "a" }))));
        Assert.Contains("not resent", refused.Message);
        Assert.Equal(1, tokens.Unauthorized); // it reached the server once, and was not sent again
        Assert.Equal(0, posts);

        // The 401 still counts against that token: the next request refreshes first, once, and goes through.
        var keyed = await net.Client.SendAsync(NetRequest.Post("api", "/api/orders", NetContent.Json(new { order = "b" }))
            .WithIdempotencyKey("order-b"));
        Assert.Equal(HttpStatusCode.Created, keyed.StatusCode);
        Assert.Equal(1, keyed.Attempts);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal(1, tokens.Unauthorized);
        Assert.Equal(1, posts);
    }

    [Fact]
    public async Task A_POST_with_an_idempotency_key_is_resent_once_after_a_401_with_the_refreshed_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false);

        var response = await net.Client.SendAsync(NetRequest.Post("api", "/api/orders", NetContent.Json(new { order = "a" }))
            .WithIdempotencyKey("order-a"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, response.Attempts);
        Assert.Equal(1, tokens.Unauthorized);
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task An_insufficient_scope_401_fails_without_a_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        MapAlways401(upstream, "/reports/*", "Bearer error=\"insufficient_scope\", scope=\"reports:read\"");
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);

        var error = await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/reports/1")));

        Assert.Equal(1, error.Attempts);
        Assert.Equal(0, tokens.RefreshCalls);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/x"))).StatusCode);
        Assert.Equal(0, tokens.RefreshCalls);
    }

    [Fact]
    public async Task The_second_401_after_a_retry_with_a_fresher_token_does_not_mark_that_token_rejected()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        MapAlways401(upstream, "/admin/*", "Bearer realm=\"api\"");
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);

        var error = await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/admin/1")));
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        Assert.Equal(2, error.Attempts);          // one refresh for the version nothing had vouched for ...
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(1, tokens.RefreshCalls);     // ... and the fresh token, refused once on /admin, is still used
    }

    [Fact]
    public async Task A_token_rejected_everywhere_gets_exactly_one_refresh_per_version()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        MapAlways401(upstream, "/denied/*", "Bearer error=\"invalid_token\"");
        var refreshed = new System.Collections.Concurrent.ConcurrentQueue<TokenRefreshed>();
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true,
            realm: r => r.OnTokenRefreshed(refreshed.Enqueue));

        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/denied/{i}")));
        }

        // Each request's first 401 is about a version nothing has vouched for: one refresh for that version; its
        // second 401 (with the fresher token) is about the request. 10, not the 19 of marking every fresh token.
        Assert.Equal(10, tokens.RefreshCalls);
        await Eventually.Assert(() => Assert.Equal(10, refreshed.Count));
        // One refresh per version, each version once (the callbacks may arrive in any order).
        Assert.Equal(Enumerable.Range(2, 10).Select(v => (long)v), refreshed.Select(e => e.Version).Order());
    }

    [Fact]
    public async Task Concurrent_requests_to_an_endpoint_that_rejects_every_token_cause_one_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        // Every first attempt is held at the server until all ten are there, so all carry the same version.
        var gate = new Gate();
        upstream.Map("/denied/*", async ctx =>
        {
            await gate.PassAsync(ctx);
            ctx.Response.StatusCode = 401;
            ctx.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        });
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true,
            maxConnections: 16);

        var sent = Enumerable.Range(0, 10).Select(i => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/denied/{i}")))).ToList();
        await gate.WaitForArrivalsAsync(10);
        gate.Open();
        var outcomes = await Task.WhenAll(sent);

        Assert.All(outcomes, o => Assert.IsType<UnauthorizedException>(o.Error));
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task An_invalid_token_401_for_a_token_the_server_accepted_before_still_refreshes()
    {
        // Revocation: the server accepted the token, then stops accepting it and says invalid_token.
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/before"))).StatusCode);

        tokens.ExpireNow();
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/api/after"));

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, after.Attempts);
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task A_bare_401_for_a_token_the_server_accepted_fails_that_request_and_the_next_one_refreshes()
    {
        // A server that expires tokens silently (no lifetime known) and answers a bare challenge: at most one
        // request per version pays for the ambiguity, then the realm refreshes as usual.
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        upstream.Map("/silent/*", async ctx =>
        {
            if (!tokens.Check(ctx))
            {
                ctx.Response.StatusCode = 401;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                return;
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: false);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/silent/1"))).StatusCode);

        tokens.ExpireNow();
        await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/silent/2")));
        var next = await net.Client.SendAsync(NetRequest.Get("api", "/silent/3"));

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(1, tokens.RefreshCalls);
    }
}

/// <summary>The 401 rules on their own.</summary>
public sealed class UnauthorizedPolicyTests
{
    [Theory]
    [InlineData("Bearer error=\"insufficient_scope\"", false, false, "Fail", false)]
    [InlineData("Bearer error=\"insufficient_scope\"", true, false, "Fail", false)]
    [InlineData("Bearer error=\"invalid_token\"", true, false, "Refresh", true)]
    [InlineData("Bearer error=\"invalid_token\", error_description=\"expired\"", false, false, "Refresh", true)]
    [InlineData("Bearer realm=\"api\"", false, false, "Refresh", true)]
    [InlineData("Bearer realm=\"api\"", true, false, "Fail", false)]
    [InlineData("", true, false, "Refresh", true)]
    [InlineData("", false, false, "Refresh", true)]
    [InlineData("Bearer error=\"invalid_token\"", false, true, "Fail", false)]
    [InlineData("DPoP error=\"insufficient_scope\", algs=\"ES256\"", false, false, "Fail", false)]
    public void Decides_by_challenge_vouching_and_retry(string challenge, bool vouched, bool retried,
        string verdict, bool markRejected)
    {
        var decision = UnauthorizedPolicy.Decide(challenge.Length == 0 ? [] : [challenge], vouched, retried, newerTokenUsable: false);

        Assert.Equal(Enum.Parse<UnauthorizedVerdict>(verdict), decision.Verdict);
        Assert.Equal(markRejected, decision.MarkRejected);
    }

    [Fact]
    public void A_newer_token_at_hand_is_used_without_a_refresh()
    {
        var decision = UnauthorizedPolicy.Decide(["Bearer error=\"invalid_token\""], vouched: false, retriedWithFresherToken: false,
            newerTokenUsable: true);

        Assert.Equal(UnauthorizedVerdict.RetryWithCurrent, decision.Verdict);
    }

    [Fact]
    public void A_bare_401_for_a_vouched_token_withdraws_the_vouch()
    {
        Assert.True(UnauthorizedPolicy.Decide(["Bearer"], vouched: true, false, false).WithdrawVouch);
        Assert.False(UnauthorizedPolicy.Decide(["Bearer error=\"insufficient_scope\""], vouched: true, false, false).WithdrawVouch);
    }

    [Fact]
    public void The_error_parameter_is_not_confused_with_error_description()
    {
        Assert.Null(UnauthorizedPolicy.ErrorOf(["Bearer error_description=\"invalid_token\""]));
        Assert.Equal("invalid_token", UnauthorizedPolicy.ErrorOf(["Bearer realm=\"x\",error=\"invalid_token\""]));
    }
}
