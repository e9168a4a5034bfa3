using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Auth;
using NetActors.Caching;
using NetActors.Configuration;
using NetActors.Tests.Auth;
using static NetActors.Tests.Caching.CacheResponses;

namespace NetActors.Tests.Caching;

/// <summary>A cached response never reaches a caller with other credentials: sessions, sign-ins and hand-set credentials.</summary>
public sealed class CacheSessionIsolationTests
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
}
