using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Tests.Auth;

/// <summary>
/// Every answer of a real token endpoint is judged once: an answer that can never become a token fails the waiting
/// requests at once and is not retried with the same refresh token; lifetimes cannot make the realm spin; a refresher
/// that never returns is abandoned at refresh-timeout.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class TokenAnswerTests
{
    public static TheoryData<string, string> Unusable => new()
    {
        { "expires_in 1e300", "{\"access_token\":\"a1\",\"refresh_token\":\"r2\",\"expires_in\":1e300}" },
        { "expires_in \"NaN\"", "{\"access_token\":\"a1\",\"refresh_token\":\"r2\",\"expires_in\":\"NaN\"}" },
        { "expires_in -5", "{\"access_token\":\"a1\",\"refresh_token\":\"r2\",\"expires_in\":-5}" },
        { "a token with CR/LF", "{\"access_token\":\"a1\\r\\nX-Evil: 1\",\"refresh_token\":\"r2\",\"expires_in\":60}" },
        { "an answer over the size limit", "{\"access_token\":\"" + new string('a', 8000) + "\",\"expires_in\":60}" },
        { "not JSON", "<html>gateway</html>" },
    };

    [Theory]
    [MemberData(nameof(Unusable))]
    public async Task An_unusable_token_answer_fails_the_request_at_once_and_is_not_retried_with_the_same_refresh_token(
        string what, string answer)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.RefreshOverride = async ctx =>
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(answer);
            return true;
        };
        var ended = new ConcurrentQueue<SessionExpired>();
        await using var net = await AuthTestHost.StartAsync(upstream, client: c => c.WithMaxResponseSize(4096),
            realm: r => r.OnSessionExpired(ended.Enqueue));
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true));

        var clock = Stopwatch.StartNew();
        var first = await Assert.ThrowsAsync<ResponseFormatException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(5))));
        var elapsed = clock.Elapsed;
        var second = await Assert.ThrowsAsync<ResponseFormatException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/api/y").WithTimeout(TimeSpan.FromSeconds(5))));

        Assert.True(elapsed < TimeSpan.FromSeconds(2.5), $"{what}: the first request failed after {elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(1, tokens.RefreshCalls);   // the refresh token that got this answer was presented once
        Assert.Contains("sign in again", second.Message);
        Assert.DoesNotContain("a1", first.Message);
        Assert.Empty(ended);                     // the server did not say invalid_grant: the session is kept
        Assert.Equal(0, upstream.Count("/api/x") + upstream.Count("/api/y"));
    }

    [Fact]
    public async Task A_lifetime_of_20_ms_does_not_make_an_idle_realm_refresh_in_a_loop()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromMilliseconds(20) }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var after = tokens.RefreshCalls;

        // The measurement window: with no traffic, a realm that schedules refreshes from a 20 ms lifetime refreshes
        // about 30 times in it; one that treats the lifetime as unknown for proactive refresh, never.
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        Assert.Equal(1, after);
        Assert.Equal(after, tokens.RefreshCalls);
        // The next request finds the token expired and refreshes first: it never carries a known-expired token.
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/y"))).StatusCode);
        Assert.Equal(0, tokens.Unauthorized);
    }

    [Fact]
    public async Task Proactive_refreshes_never_run_more_often_than_min_refresh_interval()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromMilliseconds(200) }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithProactiveRefreshFloor(TimeSpan.Zero).WithMinRefreshInterval(TimeSpan.FromSeconds(1)));
        await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));
        var start = tokens.RefreshCalls;

        // The measurement window: 200 ms tokens would be refreshed about 12 times in it ahead of expiry.
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        var proactive = tokens.RefreshCalls - start;
        Assert.InRange(proactive, 1, 3);
    }

    [Fact]
    public async Task A_delegate_refresher_that_never_returns_is_abandoned_at_refresh_timeout_and_retried()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var calls = 0;
        var ignoredCancellation = 0;
        await using var net = await AuthTestHost.StartAsync(upstream, realm: r => r
            .WithRefreshTimeout(TimeSpan.FromMilliseconds(300))
            .WithRefreshBackoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100))
            .WithRefresher((_, ct) =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    // Hangs for ever and ignores its cancellation token, as a careless delegate would.
                    ct.Register(() => Interlocked.Increment(ref ignoredCancellation));
                    return new TaskCompletionSource<TokenSet>().Task;
                }

                return Task.FromResult(tokens.SignIn());
            }));
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true));

        var clock = Stopwatch.StartNew();
        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(10)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Volatile.Read(ref calls));
        Assert.Equal(1, Volatile.Read(ref ignoredCancellation)); // the abandoned attempt was told to stop
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"served after {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task A_lifetime_beyond_token_lifetime_max_is_clamped()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromDays(400) }.Install(upstream);
        var refreshed = new ConcurrentQueue<TokenRefreshed>();
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithMaxTokenLifetime(TimeSpan.FromHours(1)).OnTokenRefreshed(refreshed.Enqueue));

        await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        await Eventually.Assert(() => Assert.Single(refreshed));
        var expiresAt = Assert.Single(refreshed).ExpiresAt!.Value;
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(55), TimeSpan.FromHours(1));
    }
}

/// <summary>Idle realms: proactive refresh pauses after idle-refresh-after without requests.</summary>
[Collection(TimingCollection.Name)]
public sealed class IdleRealmTests
{
    [Fact]
    public async Task An_idle_realm_stops_refreshing_and_the_next_request_refreshes_first()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromSeconds(1.5) }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithIdleRefreshAfter(TimeSpan.FromSeconds(1)));
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/x"))).StatusCode);
        Assert.Equal(1, tokens.RefreshCalls);

        // The measurement window, no traffic: 1.5 s tokens would be refreshed about three times ahead of expiry.
        await Task.Delay(TimeSpan.FromSeconds(4));
        var idle = tokens.RefreshCalls - 1;
        var next = await net.Client.SendAsync(NetRequest.Get("api", "/api/y"));

        Assert.Equal(0, idle);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(2, tokens.RefreshCalls);     // the stale token was refreshed before the request went
        Assert.Equal(0, tokens.Unauthorized);
    }

    [Fact]
    public async Task A_realm_in_use_keeps_refreshing_ahead_of_expiry_with_idle_refresh_after_set()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromSeconds(1.5) }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true,
            realm: r => r.WithIdleRefreshAfter(TimeSpan.FromSeconds(1)));

        // A request every 100 ms for 4 s (pacing the load, not synchronising anything).
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var until = DateTime.UtcNow.AddSeconds(4);
        while (DateTime.UtcNow < until && await pace.WaitForNextTickAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/api/tick"))).StatusCode);
        }

        Assert.True(tokens.RefreshCalls >= 2, $"{tokens.RefreshCalls} refreshes");
        Assert.Equal(0, tokens.Unauthorized);
    }
}
