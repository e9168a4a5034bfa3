using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Auth;
using NetActors.Caching;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Tests.Auth;

namespace NetActors.Tests.Caching;

public sealed class HttpCacheTests
{
    private static Task Answer(HttpContext ctx, string body, string cacheControl, string? etag = null,
        DateTimeOffset? lastModified = null, string? vary = null)
    {
        ctx.Response.Headers.CacheControl = cacheControl;
        if (etag is not null)
        {
            ctx.Response.Headers.ETag = etag;
        }

        if (lastModified is { } modified)
        {
            ctx.Response.Headers.LastModified = modified.ToString("R");
        }

        if (vary is not null)
        {
            ctx.Response.Headers.Vary = vary;
        }

        return TestUpstream.Write(ctx, 200, body);
    }

    [Fact]
    public async Task ETag_round_trip_sends_If_None_Match_and_a_304_serves_the_stored_body_marked_from_cache()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reference/colors", ctx => ctx.Request.Headers.IfNoneMatch == "\"v1\""
            ? TestUpstream.Write(ctx, 304, null)
            : Answer(ctx, "[\"red\",\"green\"]", "no-cache", etag: "\"v1\""));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        var first = await net.Client.SendAsync(NetRequest.Get("api", "/reference/colors"));
        var second = await net.Client.SendAsync(NetRequest.Get("api", "/reference/colors"));

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.False(second.Stale);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(["red", "green"], second.ReadJson<string[]>());
        var seen = upstream.Seen;
        Assert.Equal(2, seen.Count);
        Assert.False(seen[0].Headers.ContainsKey("If-None-Match"));
        Assert.Equal("\"v1\"", seen[1].Headers["If-None-Match"]);
    }

    [Fact]
    public async Task Last_Modified_revalidates_with_If_Modified_Since()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var modified = new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
        upstream.Map("/reference/units", ctx => ctx.Request.Headers.IfModifiedSince.Count > 0
            ? TestUpstream.Write(ctx, 304, null)
            : Answer(ctx, "{\"unit\":\"kg\"}", "max-age=0", lastModified: modified));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/reference/units"));
        var second = await net.Client.SendAsync(NetRequest.Get("api", "/reference/units"));

        Assert.True(second.FromCache);
        Assert.Equal("{\"unit\":\"kg\"}", second.ReadAsString());
        Assert.Equal(modified, DateTimeOffset.Parse(upstream.Seen[1].Headers["If-Modified-Since"]));
    }

    [Fact]
    public async Task A_fresh_max_age_response_is_served_without_reaching_the_upstream()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reference/countries", ctx => Answer(ctx, "[\"NL\"]", "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());
        using var metrics = new MetricsCapture(net.Services);

        var first = await net.Client.SendAsync(NetRequest.Get("api", "/reference/countries"));
        var hits = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => net.Client.SendAsync(NetRequest.Get("api", "/reference/countries"))));

        Assert.Equal(1, upstream.Count("/reference/countries"));
        Assert.Equal(5, metrics.Sum("netactors.client.cache.requests", "netactors.cache.result", "hit"));
        Assert.Equal(1, metrics.Sum("netactors.client.cache.requests", "netactors.cache.result", "miss"));
        Assert.False(first.FromCache);
        Assert.All(hits, r => Assert.True(r.FromCache));
        Assert.All(hits, r => Assert.Equal(0, r.Attempts));
    }

    [Fact]
    public async Task No_store_is_never_cached_and_a_request_no_cache_revalidates()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/private", ctx => Answer(ctx, "{}", "no-store", etag: "\"p\""));
        upstream.Map("/fresh", ctx => Answer(ctx, "{}", "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        for (var i = 0; i < 3; i++)
        {
            Assert.False((await net.Client.SendAsync(NetRequest.Get("api", "/private"))).FromCache);
        }

        await net.Client.SendAsync(NetRequest.Get("api", "/fresh"));
        var forced = await net.Client.SendAsync(NetRequest.Get("api", "/fresh").WithHeader("Cache-Control", "no-cache"));

        Assert.Equal(3, upstream.Count("/private"));
        Assert.All(upstream.Seen.Where(s => s.Path == "/private"), s => Assert.False(s.Headers.ContainsKey("If-None-Match")));
        Assert.Equal(2, upstream.Count("/fresh"));
        Assert.False(forced.FromCache);
    }

    [Fact]
    public async Task Eviction_keeps_the_cache_under_its_byte_limit_least_recently_used_first()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var body = new string('x', 8 * 1024);
        upstream.Map("/items/*", ctx => Answer(ctx, body, "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithCache(maxBytes: 64 * 1024).Set("cache.max-entry-bytes", "16KiB"));

        for (var i = 0; i < 20; i++)
        {
            await net.Client.SendAsync(NetRequest.Get("api", $"/items/{i}"));
        }

        var cache = net.Services.GetRequiredService<NetActorsRuntime>().Caches.Find("api")!;
        Assert.InRange(cache.Bytes, 1, 64 * 1024);
        Assert.InRange(cache.Count, 2, 7);
        Assert.True((await net.Client.SendAsync(NetRequest.Get("api", "/items/19"))).FromCache);
        Assert.False((await net.Client.SendAsync(NetRequest.Get("api", "/items/0"))).FromCache);
        Assert.Equal(2, upstream.Count("/items/0"));
    }

    [Fact]
    public async Task Stale_if_error_serves_a_stale_entry_marked_stale_when_the_upstream_is_down()
    {
        var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reference/rates", ctx => Answer(ctx, "{\"eur\":1}", "max-age=0", etag: "\"r1\""));
        upstream.Map("/reference/strict", ctx => Answer(ctx, "{\"eur\":1}", "max-age=0, must-revalidate", etag: "\"s1\""));
        upstream.Map("/reference/never", ctx => Answer(ctx, "{}", "no-store"));
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithCache(staleIfError: TimeSpan.FromHours(1)).WithMaxAttempts(1));
        await net.Client.SendAsync(NetRequest.Get("api", "/reference/rates"));
        await net.Client.SendAsync(NetRequest.Get("api", "/reference/strict"));
        await net.Client.SendAsync(NetRequest.Get("api", "/reference/never"));

        await upstream.DisposeAsync(); // connections are now refused

        var stale = await net.Client.SendAsync(NetRequest.Get("api", "/reference/rates"));
        Assert.True(stale.FromCache);
        Assert.True(stale.Stale);
        Assert.Equal("{\"eur\":1}", stale.ReadAsString());
        await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/reference/strict")));
        await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/reference/never")));
    }

    [Fact]
    public async Task Vary_keeps_one_entry_per_request_header_value()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/greeting", ctx => Answer(ctx, ctx.Request.Headers.AcceptLanguage.ToString(), "max-age=300",
            vary: "Accept-Language"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());
        NetRequest In(string language) => NetRequest.Get("api", "/greeting").WithHeader("Accept-Language", language);

        await net.Client.SendAsync(In("nl"));
        var english = await net.Client.SendAsync(In("en"));
        var dutch = await net.Client.SendAsync(In("nl"));

        Assert.False(english.FromCache);
        Assert.Equal("en", english.ReadAsString());
        Assert.True(dutch.FromCache);
        Assert.Equal("nl", dutch.ReadAsString());
        Assert.Equal(2, upstream.Count("/greeting"));
    }

    [Fact]
    public async Task A_successful_unsafe_request_removes_the_stored_response_of_its_url()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var version = 1;
        upstream.Map("/profile", ctx => ctx.Request.Method == "PUT"
            ? TestUpstream.Write(ctx, 204, null)
            : Answer(ctx, $"{{\"v\":{version}}}", "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/profile"));
        version = 2;
        await net.Client.SendAsync(NetRequest.Put("api", "/profile", NetContent.Json(new { v = 2 })));
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/profile"));

        Assert.False(after.FromCache);
        Assert.Equal("{\"v\":2}", after.ReadAsString());
    }

    [Fact]
    public async Task A_path_ttl_makes_reference_data_fresh_whatever_the_response_says()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reference/*", ctx => Answer(ctx, "[]", "no-cache"));
        upstream.Map("/live", ctx => Answer(ctx, "[]", "no-cache"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache().WithCacheTtl("/reference/*", TimeSpan.FromMinutes(10)));

        await net.Client.SendAsync(NetRequest.Get("api", "/reference/currencies"));
        var cached = await net.Client.SendAsync(NetRequest.Get("api", "/reference/currencies"));
        await net.Client.SendAsync(NetRequest.Get("api", "/live"));
        await net.Client.SendAsync(NetRequest.Get("api", "/live"));

        Assert.True(cached.FromCache);
        Assert.Equal(1, upstream.Count("/reference/currencies"));
        Assert.Equal(2, upstream.Count("/live"));
    }

    [Fact]
    public async Task A_new_user_never_sees_the_previous_users_cached_responses()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/api/me", ctx => ctx.Request.Headers.Authorization.Count == 0
            ? TestUpstream.Write(ctx, 401, null)
            : Answer(ctx, ctx.Request.Headers.Authorization.ToString()[7..], "private, max-age=300"));
        await using var net = await AuthTestHost.StartAsync(upstream, client: c => c.WithCache());
        var later = DateTimeOffset.UtcNow.AddHours(1);

        await net.Client.SignInAsync("api", new TokenSet("alice-token", "alice-refresh", later));
        Assert.Equal("alice-token", (await net.Client.SendAsync(NetRequest.Get("api", "/api/me"))).ReadAsString());
        Assert.True((await net.Client.SendAsync(NetRequest.Get("api", "/api/me"))).FromCache);

        await net.Client.SignInAsync("api", new TokenSet("bob-token", "bob-refresh", later));
        var bob = await net.Client.SendAsync(NetRequest.Get("api", "/api/me"));
        Assert.False(bob.FromCache);
        Assert.Equal("bob-token", bob.ReadAsString());

        var anonymous = await net.Client.SendAsync(NetRequest.Get("api", "/api/me").AsAnonymous() with { AllowErrorStatus = true });
        Assert.False(anonymous.FromCache); // what was fetched with a token never answers a request without one

        await net.Client.TerminateSessionAsync("api");
        await Assert.ThrowsAsync<SessionExpiredException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/me")));
        Assert.Equal(3, upstream.Count("/api/me"));
    }

    [Theory]
    [InlineData("/reference/*", "/reference/a/b", true)]
    [InlineData("/reference/*", "/reference", false)]
    [InlineData("/*/flags", "/v2/flags", true)]
    [InlineData("/exact", "/exact", true)]
    [InlineData("/exact", "/exactly", false)]
    public void Path_patterns_match_with_stars(string pattern, string path, bool matches)
    {
        Assert.Equal(matches, CacheSettings.Glob(pattern, path));
    }
}
