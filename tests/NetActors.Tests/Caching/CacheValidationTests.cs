using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using static NetActors.Tests.Caching.CacheResponses;

namespace NetActors.Tests.Caching;

/// <summary>Revalidation (ETag / If-None-Match, Last-Modified / If-Modified-Since) and what a 304 renews.</summary>
public sealed class CacheValidationTests
{
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
}
