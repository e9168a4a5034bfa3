using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Tests.Auth;

[Collection(TimingCollection.Name)]
public sealed class SessionLifecycleTests
{
    [Fact]
    public async Task Proactive_refresh_across_several_lifetimes_sees_zero_401s()
    {
        await using var upstream = await TestUpstream.StartAsync();
        // 2.5 s tokens: a JWT's exp has whole seconds, so the client sees 1.5 to 2.5 s, above the proactive floor and
        // above min-refresh-interval (1 s) before the skew point.
        var tokens = new TokenServer { Lifetime = TimeSpan.FromSeconds(2.5), JwtTokens = true }.Install(upstream);
        var refreshed = new ConcurrentQueue<TokenRefreshed>();
        await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r.OnTokenRefreshed(refreshed.Enqueue));
        // The sign-in token is a JWT: the client reads its expiry from the exp claim.
        var login = tokens.SignIn();
        await net.Client.SignInAsync("api", login with { ExpiresAt = null });

        // A steady stream: 4 requests every 25 ms for 6 s (pacing the load, not synchronising anything).
        var until = DateTime.UtcNow.AddSeconds(6);
        var sent = 0;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(25));
        while (DateTime.UtcNow < until && await pace.WaitForNextTickAsync())
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/tick/{sent + i}"))));
            sent += 4;
        }

        Assert.Equal(0, tokens.Unauthorized);
        Assert.True(tokens.RefreshCalls >= 2, $"{tokens.RefreshCalls} refreshes in 6 s of 2.5 s tokens");
        Assert.Equal(sent, tokens.Authorized);
        await Eventually.Assert(() => Assert.True(refreshed.Count >= 2, $"{refreshed.Count} TokenRefreshed callbacks"));
        Assert.All(refreshed, e => Assert.True(e.Proactive));
    }

    [Fact]
    public async Task A_rejected_refresh_ends_the_session_cleanly_and_sign_in_restores_it()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var tokens = new TokenServer { BeforeRefresh = gate.PassAsync }.Install(upstream);
        tokens.RefreshOverride = async ctx =>
        {
            ctx.Response.StatusCode = 400;
            await ctx.Response.WriteAsync("{\"error\":\"invalid_grant\"}");
            return true;
        };
        var expired = new ConcurrentQueue<SessionExpired>();
        var store = new MemoryTokenStore();
        await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r.WithTokenStore(store).OnSessionExpired(expired.Enqueue));
        var events = Events.Collect<SessionExpired>(net.System);
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: false));
        Assert.NotNull(await store.LoadAsync("api", default));

        var waiting = Enumerable.Range(0, 30).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/w/{i}"))).ToList();
        await gate.WaitForArrivalsAsync(1);
        gate.Open();

        foreach (var task in waiting)
        {
            var error = await Assert.ThrowsAsync<SessionExpiredException>(() => task);
            Assert.Equal("api", error.Realm);
        }

        Assert.Equal(1, tokens.RefreshCalls);
        await Eventually.Assert(() => Assert.Single(expired));
        await Eventually.Assert(() => Assert.Single(events));
        Assert.Null(await store.LoadAsync("api", default));

        // Later requests fail fast: nothing reaches the upstream.
        var before = upstream.Seen.Count;
        await Assert.ThrowsAsync<SessionExpiredException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/later")));
        Assert.Equal(before, upstream.Seen.Count);
        Assert.Single(expired);

        // A new sign-in restores service.
        tokens.RefreshOverride = null;
        await net.Client.SignInAsync("api", tokens.SignIn());
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/api/again"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Terminate_session_fails_waiting_requests_and_later_ones_fail_fast()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var tokens = new TokenServer { BeforeRefresh = gate.PassAsync }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);

        var waiting = Enumerable.Range(0, 5).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/w/{i}"))).ToList();
        await gate.WaitForArrivalsAsync(1);
        await net.Client.TerminateSessionAsync("api");

        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<SessionExpiredException>(() => task);
        }

        gate.Open();   // the refresh answer that arrives now belongs to the ended session: ignored
        await Assert.ThrowsAsync<SessionExpiredException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/after")));
        Assert.Equal(0, upstream.Count("/api/after"));
    }

    [Fact]
    public async Task An_unreachable_token_endpoint_for_a_while_does_not_end_the_session()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var failures = 3;
        tokens.RefreshOverride = ctx =>
        {
            if (Interlocked.Decrement(ref failures) >= 0)
            {
                // Alternate a 503 and a dropped connection: both mean "could not refresh now".
                if (failures % 2 == 0)
                {
                    ctx.Abort();
                }
                else
                {
                    ctx.Response.StatusCode = 503;
                }

                return Task.FromResult(true);
            }

            return Task.FromResult(false);
        };
        var expired = new ConcurrentQueue<SessionExpired>();
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false,
            realm: r => r.OnSessionExpired(expired.Enqueue).Set("refresh-retry.min-backoff", "50ms").Set("refresh-retry.max-backoff", "200ms"));

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/u/{i}"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(4, tokens.RefreshCalls);   // three failures, then the one that worked
        Assert.Empty(expired);
    }

    [Fact]
    public async Task Requests_waiting_on_an_unreachable_token_endpoint_fail_with_the_cause_not_a_bare_timeout()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.RefreshOverride = ctx =>
        {
            ctx.Response.StatusCode = 503;
            return Task.FromResult(true);
        };
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.Set("refresh-retry.min-backoff", "50ms").Set("refresh-retry.max-backoff", "100ms"));

        var error = await Assert.ThrowsAsync<TokenUnavailableException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromMilliseconds(500))));

        Assert.Equal("api", error.Realm);
        Assert.Contains("503", error.LastCause);
        Assert.Equal(0, upstream.Count("/api/x"));
        Assert.True(tokens.RefreshCalls >= 2);
    }

    [Fact]
    public async Task A_malformed_token_answer_gives_a_typed_error_once_and_a_sign_in_restores_the_realm()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var malformed = true;
        tokens.RefreshOverride = async ctx =>
        {
            if (!malformed)
            {
                return false;
            }

            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("{\"token\": 42}");
            return true;
        };
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);

        var error = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/x")));
        Assert.Contains("access_token", error.Message);

        // The refresh token that got the unusable answer is not presented again: the next request fails at once.
        malformed = false;
        var again = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/x")));
        Assert.Contains("sign in again", again.Message);
        Assert.Equal(1, tokens.RefreshCalls);

        await net.Client.SignInAsync("api", tokens.SignIn());
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/api/y"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Sign_in_rejects_a_malformed_token_naming_the_problem()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var net = await AuthTestHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() =>
            net.Client.SignInAsync("api", new TokenSet("abc\r\nX-Evil: 1")));

        Assert.Contains("not allowed in a bearer token", error.Message);
        Assert.DoesNotContain("abc", error.Message);
    }

    [Fact]
    public async Task A_file_store_resumes_the_session_after_a_restart_of_the_service()
    {
        var directory = Path.Combine(Path.GetTempPath(), "netactors-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var upstream = await TestUpstream.StartAsync();
            var tokens = new TokenServer().Install(upstream);
            await using (var first = await AuthTestHost.StartAsync(upstream, realm: r => r.WithFileTokenStore(directory)))
            {
                await first.Client.SignInAsync("api", tokens.SignIn());
                tokens.ExpireNow();
                await first.Client.SendAsync(NetRequest.Get("api", "/api/one"));   // refresh: the rotated tokens are saved
            }

            var file = new FileTokenStore(directory).PathFor("api");
            Assert.True(File.Exists(file));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            await using var second = await AuthTestHost.StartAsync(upstream, realm: r => r.WithFileTokenStore(directory));
            var response = await second.Client.SendAsync(NetRequest.Get("api", "/api/two"));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, tokens.RefreshCalls);
        }
        finally
        {
            TempDirectory.Remove(directory); // a store write may still be finishing
        }
    }

    [Fact]
    public async Task A_stored_token_past_its_expiry_is_refreshed_when_the_realm_resumes_it_without_waiting_for_a_request()
    {
        // What a new cluster singleton finds after a member was downed: the stored token has less time left than the
        // proactive floor (here none). Its remaining time is not its lifetime: the realm refreshes it once at once.
        var directory = Path.Combine(Path.GetTempPath(), "netactors-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var upstream = await TestUpstream.StartAsync();
            var tokens = new TokenServer { Rotate = true }.Install(upstream);
            var expired = tokens.SignIn() with { ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(-1) };
            await new FileTokenStore(directory).SaveAsync("api", new StoredTokens(expired, 1), default);

            await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r.WithFileTokenStore(directory));

            await Eventually.Assert(() => Assert.Equal(1, tokens.RefreshCalls), TimeSpan.FromSeconds(10));
            var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/after"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, tokens.RefreshCalls);
            Assert.Equal(0, tokens.Unauthorized);
        }
        finally
        {
            TempDirectory.Remove(directory); // a store write may still be finishing
        }
    }
}
