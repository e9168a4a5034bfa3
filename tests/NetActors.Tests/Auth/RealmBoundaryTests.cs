using System.Net;
using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Auth;

public sealed class RealmBoundaryTests
{
    [Fact]
    public async Task The_token_never_goes_to_an_origin_outside_its_realm_not_even_across_a_redirect()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        other.Respond("*", 200, "{}");
        upstream.Map("/api/jump", ctx =>
        {
            if (!tokens.Check(ctx))
            {
                ctx.Response.StatusCode = 401;
                return Task.CompletedTask;
            }

            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = new Uri(other.BaseAddress, "landing").ToString();
            return Task.CompletedTask;
        });
        upstream.Map("/api/same", ctx =>
        {
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = "/api/target";
            return Task.CompletedTask;
        });
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);

        await net.Client.SendAsync(NetRequest.Get("api", new Uri(other.BaseAddress, "absolute").ToString()));
        var redirected = await net.Client.SendAsync(NetRequest.Get("api", "/api/jump"));
        var sameOrigin = await net.Client.SendAsync(NetRequest.Get("api", "/api/same"));
        upstream.Respond("/public/anon", 200, "{}");
        await net.Client.SendAsync(NetRequest.Get("api", "/public/anon").AsAnonymous());

        Assert.Equal(new Uri(other.BaseAddress, "landing"), redirected.Uri);
        Assert.Equal(HttpStatusCode.OK, sameOrigin.StatusCode);
        Assert.Equal(2, other.Seen.Count);
        Assert.All(other.Seen, s => Assert.False(s.Headers.ContainsKey("Authorization")));
        // Same-origin redirect keeps the token (the target is in the realm).
        Assert.StartsWith("Bearer ", upstream.Seen.Single(s => s.Path == "/api/target").Headers["Authorization"]);
        Assert.False(upstream.Seen.Single(s => s.Path == "/public/anon").Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task Extra_realm_origins_receive_the_token_and_a_shared_realm_serves_two_clients()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var files = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        files.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n
            .AddAuthRealm("shared", r => r.WithRefreshEndpoint("/auth/refresh").WithTokenClient("api").WithOrigins(files.Origin))
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithAuthRealm("shared"))
            .AddClient("files", c => c.WithBaseAddress(files.BaseAddress).WithAuthRealm("shared")));
        await net.Client.SignInAsync("shared", tokens.SignIn());

        await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));
        await net.Client.SendAsync(NetRequest.Get("files", "/blob/1"));

        Assert.Equal("Bearer " + tokens.CurrentAccessToken, files.Seen.Single().Headers["Authorization"]);
    }
}
