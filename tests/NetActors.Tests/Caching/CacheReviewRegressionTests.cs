using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Caching;
using NetActors.Configuration;
using NetActors.Errors;

namespace NetActors.Tests.Caching;

/// <summary>Regressions for the cache defects a review found (each failed before its fix).</summary>
public sealed class CacheReviewRegressionTests
{
    private static CacheEntry EntryFor(string url)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { MaxAge = TimeSpan.FromMinutes(5) };
        var uri = new Uri(url);
        return CacheEntry.TryCreate(ResponseCache.KeyOf(HttpMethod.Get, uri), uri, HttpStatusCode.OK, response.Headers,
            response.Content.Headers, "{}"u8.ToArray(), _ => null, new CacheSettings { Enabled = true }, DateTimeOffset.UtcNow)!;
    }

    [Fact]
    public void After_a_session_change_a_response_fetched_with_an_older_token_is_not_stored()
    {
        var registry = new CacheRegistry();
        var client = new ClientSettings { Name = "api", AuthRealm = "api", Cache = new CacheSettings { Enabled = true } };
        var cache = registry.For(client)!;
        var epoch = cache.Epoch;

        registry.ClearRealm("api", minTokenVersion: 5); // Bob signed in: his first token is version 5
        cache.Store(EntryFor("http://127.0.0.1/me"), cache.Epoch, tokenVersion: 4); // Alice's request, admitted after the clear
        Assert.Equal(0, cache.Count);

        cache.Store(EntryFor("http://127.0.0.1/me"), epoch, tokenVersion: 5); // requested before the clear
        Assert.Equal(0, cache.Count);

        cache.Store(EntryFor("http://127.0.0.1/me"), cache.Epoch, tokenVersion: 5);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void A_cache_created_after_a_session_change_starts_with_its_floor()
    {
        var registry = new CacheRegistry();
        registry.ClearRealm("api", minTokenVersion: 3);
        var cache = registry.For(new ClientSettings { Name = "api", AuthRealm = "api", Cache = new CacheSettings { Enabled = true } })!;

        cache.Store(EntryFor("http://127.0.0.1/me"), cache.Epoch, tokenVersion: 2);

        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task Requests_with_hand_set_credentials_are_never_cached()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/me", ctx =>
        {
            ctx.Response.Headers.CacheControl = "private, max-age=300";
            ctx.Response.Headers.Vary = "Authorization";
            return TestUpstream.Write(ctx, 200, ctx.Request.Headers.Authorization.ToString());
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/me").WithHeader("Authorization", "Bearer alice"));
        var bob = await net.Client.SendAsync(NetRequest.Get("api", "/me").WithHeader("Authorization", "Bearer bob"));

        Assert.False(bob.FromCache);
        Assert.Equal("Bearer bob", bob.ReadAsString());
    }

    [Fact]
    public async Task A_redirect_never_carries_the_first_urls_validator_to_the_next()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var moved = false;
        upstream.Map("/a", ctx =>
        {
            if (moved)
            {
                ctx.Response.Headers.Location = "/b";
                return TestUpstream.Write(ctx, 302, null);
            }

            ctx.Response.Headers.ETag = "\"1\"";
            ctx.Response.Headers.CacheControl = "max-age=0";
            return TestUpstream.Write(ctx, 200, "body of a");
        });
        upstream.Map("/b", ctx => ctx.Request.Headers.IfNoneMatch.Count > 0
            ? TestUpstream.Write(ctx, 304, null)
            : TestUpstream.Write(ctx, 200, "body of b"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/a"));
        moved = true;
        var response = await net.Client.SendAsync(NetRequest.Get("api", "/a"));

        Assert.Equal("body of b", response.ReadAsString());
        Assert.False(upstream.Seen.Single(s => s.Path == "/b").Headers.ContainsKey("If-None-Match"));
    }

    [Fact]
    public async Task A_304_renews_freshness_from_its_Expires_header()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/rates", ctx =>
        {
            ctx.Response.Headers.ETag = "\"r\"";
            if (ctx.Request.Headers.IfNoneMatch.Count > 0)
            {
                ctx.Response.Headers.Expires = DateTimeOffset.UtcNow.AddHours(1).ToString("R");
                return TestUpstream.Write(ctx, 304, null);
            }

            ctx.Response.Headers.Expires = DateTimeOffset.UtcNow.AddHours(-1).ToString("R");
            return TestUpstream.Write(ctx, 200, "{\"eur\":1}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/rates"));   // stored, already stale
        await net.Client.SendAsync(NetRequest.Get("api", "/rates"));   // revalidated: fresh for an hour
        var third = await net.Client.SendAsync(NetRequest.Get("api", "/rates"));

        Assert.True(third.FromCache);
        Assert.Equal(2, upstream.Count("/rates"));
    }

    [Fact]
    public async Task Changing_the_headers_of_a_cached_response_changes_nothing_stored()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/ref", ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=300";
            ctx.Response.Headers["X-Version"] = "7";
            return TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());
        await net.Client.SendAsync(NetRequest.Get("api", "/ref"));

        var hit = await net.Client.SendAsync(NetRequest.Get("api", "/ref"));
        hit.Headers.Remove("X-Version");
        hit.Headers.CacheControl!.MaxAge = TimeSpan.Zero;
        var next = await net.Client.SendAsync(NetRequest.Get("api", "/ref"));

        Assert.True(next.FromCache);
        Assert.Equal("7", next.Headers.GetValues("X-Version").Single());
        Assert.Equal(TimeSpan.FromSeconds(300), next.Headers.CacheControl!.MaxAge);
    }

    [Fact]
    public async Task Stale_if_error_never_serves_a_no_cache_response()
    {
        var upstream = await TestUpstream.StartAsync();
        upstream.Map("/live", ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-cache, max-age=600";
            ctx.Response.Headers.ETag = "\"l\"";
            return TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache(staleIfError: TimeSpan.FromHours(1)).WithMaxAttempts(1));
        await net.Client.SendAsync(NetRequest.Get("api", "/live"));

        await upstream.DisposeAsync();

        await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/live")));
    }

    [Fact]
    public async Task A_POST_answered_with_303_invalidates_its_url()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var orders = 1;
        upstream.Map("/orders", ctx =>
        {
            if (ctx.Request.Method == "POST")
            {
                orders++;
                ctx.Response.Headers.Location = "/orders/latest";
                return TestUpstream.Write(ctx, 303, null);
            }

            ctx.Response.Headers.CacheControl = "max-age=300";
            return TestUpstream.Write(ctx, 200, $"{{\"count\":{orders}}}");
        });
        upstream.Respond("/orders/latest", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/orders"));
        await net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { item = 1 })));
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/orders"));

        Assert.False(after.FromCache);
        Assert.Equal("{\"count\":2}", after.ReadAsString());
    }
}
