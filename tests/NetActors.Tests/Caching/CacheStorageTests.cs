using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Hosting;
using static NetActors.Tests.Caching.CacheResponses;

namespace NetActors.Tests.Caching;

/// <summary>What is stored: the byte limit, Vary, and stored responses that callers cannot change.</summary>
public sealed class CacheStorageTests
{
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
}
