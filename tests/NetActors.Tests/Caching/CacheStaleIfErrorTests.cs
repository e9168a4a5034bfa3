using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using static NetActors.Tests.Caching.CacheResponses;

namespace NetActors.Tests.Caching;

/// <summary>Serving a stale response when the upstream is down, and when never to.</summary>
public sealed class CacheStaleIfErrorTests
{
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
}
