using NetActors.Errors;
using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Auth;

/// <summary>A grant the token endpoint rejects ends the session once; it is never retried in a loop.</summary>
public sealed class RejectedGrantTests
{
    [Fact]
    public async Task A_rejected_client_credentials_grant_is_not_retried_in_a_loop()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/oauth/token", async ctx =>
        {
            ctx.Response.StatusCode = 401;
            await ctx.Response.WriteAsync("{\"error\":\"invalid_client\"}");
        });
        upstream.Respond("/api/*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthClientCredentials("/oauth/token", "svc", "wrong-secret"))));

        var waiting = Enumerable.Range(0, 10).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/{i}"))).ToList();
        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<SessionExpiredException>(() => task);
        }

        Assert.Equal(1, upstream.Count("/oauth/token"));
        Assert.Equal(0, upstream.Count("/api/0"));
    }
}
