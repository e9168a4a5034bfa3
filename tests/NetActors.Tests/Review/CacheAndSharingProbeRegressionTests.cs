using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Resilience;
using NetActors.Tests.Auth;
using NetActors.Tests.Caching;

namespace NetActors.Tests.Review;

/// <summary>
/// What the hostile probe of the cache and of shared calls found (2026-12-04), over Kestrel, each failing on the code
/// before its fix: a request after a sign-in or a sign-out sharing the previous session's call, a response keyed on a
/// header a hook set served to another user, <c>no-store</c> lost beside one bad directive or said by a 304, and an
/// <c>Age</c> too large to read taken for zero.
/// </summary>
public sealed class CacheAndSharingProbeRegressionTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    private static TestUpstream MeEndpoint(TestUpstream upstream, Gate gate) =>
        upstream.Map("/api/me", async ctx =>
        {
            await gate.PassAsync(ctx);
            await TestUpstream.Write(ctx, 200, ctx.Request.Headers.Authorization.ToString());
        });

    [Fact]
    public async Task A_request_sent_after_another_user_signed_in_does_not_share_the_previous_users_call()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        MeEndpoint(upstream, gate);
        await using var net = await AuthTestHost.StartAsync(upstream);
        var later = DateTimeOffset.UtcNow.AddHours(1);
        await net.Client.SignInAsync("api", new TokenSet("alice-token-123456", "alice-refresh", later));
        var alice = net.Client.SendAsync(NetRequest.Get("api", "/api/me"));
        await gate.WaitForArrivalsAsync(1);

        await net.Client.SignInAsync("api", new TokenSet("bob-token-123456", "bob-refresh", later));
        var bob = net.Client.SendAsync(NetRequest.Get("api", "/api/me"));
        await gate.WaitForArrivalsAsync(2, Safety); // Bob's own call reaches the server
        gate.Open();

        Assert.Equal("Bearer alice-token-123456", (await alice.WaitAsync(Safety)).ReadAsString());
        Assert.Equal("Bearer bob-token-123456", (await bob.WaitAsync(Safety)).ReadAsString());
    }

    [Fact]
    public async Task A_request_sent_after_the_session_was_terminated_does_not_share_the_ended_sessions_call()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        MeEndpoint(upstream, gate);
        await using var net = await AuthTestHost.StartAsync(upstream);
        await net.Client.SignInAsync("api", new TokenSet("alice-token-123456", "alice-refresh", DateTimeOffset.UtcNow.AddHours(1)));
        var alice = net.Client.SendAsync(NetRequest.Get("api", "/api/me"));
        await gate.WaitForArrivalsAsync(1);

        await net.Client.TerminateSessionAsync("api");
        var afterLogout = await net.Client.TrySendAsync(NetRequest.Get("api", "/api/me")).AsTask().WaitAsync(Safety);
        gate.Open();

        Assert.IsType<SessionExpiredException>(afterLogout.Error); // answered while the old call is still held
        await alice.WaitAsync(Safety);
    }

    private sealed class SwitchableHeader(string name, string value) : NetInterceptor
    {
        public volatile string Value = value;

        public override ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation(name, Value);
            return ValueTask.CompletedTask;
        }
    }

    [Theory]
    [InlineData("Authorization", "Bearer alice", "Bearer bob")]
    [InlineData("X-Tenant", "acme", "globex")]
    public async Task A_response_that_varies_on_a_header_a_hook_sets_is_not_served_to_another_value(string header, string first, string second)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/me", ctx => CacheResponses.Answer(ctx, ctx.Request.Headers[header].ToString(), "private, max-age=300", vary: header));
        var hook = new SwitchableHeader(header, first);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache().AddInterceptor(hook));

        Assert.Equal(first, (await net.Client.SendAsync(NetRequest.Get("api", "/me"))).ReadAsString());
        hook.Value = second;
        var other = await net.Client.SendAsync(NetRequest.Get("api", "/me"));

        Assert.Equal(second, other.ReadAsString());
        Assert.False(other.FromCache);
    }

    [Theory]
    [InlineData("no-store, max-age=abc")]
    [InlineData("no-store, max-age=99999999999")]
    [InlineData("private, no-store, max-age=-1")]
    public async Task No_store_beside_a_directive_that_cannot_be_read_is_still_never_stored(string cacheControl)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var n = 0;
        upstream.Map("/secret", ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            ctx.Response.Headers.Expires = DateTimeOffset.UtcNow.AddHours(1).ToString("R");
            return TestUpstream.Write(ctx, 200, "v" + Interlocked.Increment(ref n));
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/secret"));
        var second = await net.Client.SendAsync(NetRequest.Get("api", "/secret"));

        Assert.False(second.FromCache);
        Assert.Equal("v2", second.ReadAsString());
    }

    [Fact]
    public Task A_304_that_says_no_store_drops_the_entry_so_it_is_never_served_stale() =>
        RevalidatedThenDownAsync("doc", ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            ctx.Response.Headers.ETag = "\"v1\"";
            ctx.Response.StatusCode = 304;
            return Task.CompletedTask;
        }, expected: "doc"); // the 304's one use

    [Fact]
    public async Task An_age_too_large_to_read_makes_the_entry_stale()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/aged", ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=60";
            ctx.Response.Headers.Age = "99999999999";
            return TestUpstream.Write(ctx, 200, "x");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/aged"));

        Assert.False((await net.Client.SendAsync(NetRequest.Get("api", "/aged"))).FromCache);
        Assert.Equal(2, upstream.Count("/aged"));
    }

    [Fact]
    public async Task A_cache_smaller_than_the_default_entry_limit_starts_and_stores()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/r", ctx => CacheResponses.Answer(ctx, "r", "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache(maxBytes: 1 << 20));

        await net.Client.SendAsync(NetRequest.Get("api", "/r"));

        Assert.True((await net.Client.SendAsync(NetRequest.Get("api", "/r"))).FromCache);
    }

    [Fact]
    public Task A_revalidation_answered_with_a_new_response_that_may_not_be_kept_drops_the_old_entry() =>
        RevalidatedThenDownAsync("old", ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            return TestUpstream.Write(ctx, 200, "new");
        }, expected: "new");

    /// <summary>
    /// An entry stored stale with a validator (body <paramref name="first"/>), revalidated with
    /// <paramref name="revalidation"/> (whose answer the caller gets: <paramref name="expected"/>), then the origin
    /// down: with stale-if-error on, the entry must be gone, so the caller gets the 503, not the old body served stale.
    /// </summary>
    private static async Task RevalidatedThenDownAsync(string first, Func<HttpContext, Task> revalidation, string expected)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var phase = 0;
        upstream.Map("/doc", ctx => Volatile.Read(ref phase) switch
        {
            0 => CacheResponses.Answer(ctx, first, "max-age=0", etag: "\"v1\""),
            1 => revalidation(ctx),
            _ => TestUpstream.Write(ctx, 503, null),
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache(staleIfError: TimeSpan.FromMinutes(10)).WithMaxAttempts(1));

        await net.Client.SendAsync(NetRequest.Get("api", "/doc"));
        Volatile.Write(ref phase, 1);
        Assert.Equal(expected, (await net.Client.SendAsync(NetRequest.Get("api", "/doc"))).ReadAsString());
        Volatile.Write(ref phase, 2);
        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/doc")).AsTask().WaitAsync(Safety);

        Assert.IsType<ServerException>(outcome.Error);
    }
}
