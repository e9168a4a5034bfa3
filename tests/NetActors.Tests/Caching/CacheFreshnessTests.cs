using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Caching;
using static NetActors.Tests.Caching.CacheResponses;
using NetActors.Configuration;

namespace NetActors.Tests.Caching;

/// <summary>When a stored response is fresh enough to serve without the upstream.</summary>
public sealed class CacheFreshnessTests
{
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
