using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Auth;
using NetActors.Configuration;

namespace NetActors.Tests.Auth;

/// <summary>The auth API a user expects: grants without client id, named realms, token answers in other forms, logs.</summary>
public sealed class AuthApiTests
{
    [Fact]
    public async Task The_refresh_token_grant_needs_no_client_id_when_the_endpoint_needs_none()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var forms = new ConcurrentQueue<IFormCollection>();
        var authorizations = new ConcurrentQueue<string>();
        upstream.Map("/oauth/token", async ctx =>
        {
            var form = await ctx.Request.ReadFormAsync();
            forms.Enqueue(form);
            authorizations.Enqueue(ctx.Request.Headers.Authorization.ToString());
            var issued = tokens.SignIn();
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync($"{{\"access_token\":\"{issued.AccessToken}\",\"token_type\":\"Bearer\",\"expires_in\":3600}}");
        });
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthRefreshToken("/oauth/token"))));
        await net.Client.SignInAsync("api", new TokenSet("stale", "rt-1"));

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(forms);
        Assert.Equal("refresh_token", sent["grant_type"]);
        Assert.Equal("rt-1", sent["refresh_token"]);
        Assert.False(sent.ContainsKey("client_id"));
        Assert.Equal(string.Empty, Assert.Single(authorizations));
    }

    [Theory]
    [InlineData(TokenAnswerFormat.Form)]
    [InlineData(TokenAnswerFormat.Text)]
    public async Task The_refresh_endpoint_reads_form_encoded_and_plain_text_answers_when_told(TokenAnswerFormat format)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.RefreshOverride = async ctx =>
        {
            var issued = tokens.SignIn();
            if (format == TokenAnswerFormat.Form)
            {
                ctx.Response.ContentType = "application/x-www-form-urlencoded";
                await ctx.Response.WriteAsync($"access_token={Uri.EscapeDataString(issued.AccessToken)}&refresh_token=rt-2&expires_in=3600");
            }
            else
            {
                ctx.Response.ContentType = "text/plain";
                await ctx.Response.WriteAsync(issued.AccessToken + "\n");
            }

            return true;
        };
        var refreshed = new ConcurrentQueue<TokenRefreshed>();
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithRefreshAnswerFormat(format).OnTokenRefreshed(refreshed.Enqueue));

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.Assert(() => Assert.Single(refreshed));
        Assert.Equal(format == TokenAnswerFormat.Form, refreshed.Single().ExpiresAt is not null);
    }

    [Fact]
    public async Task WithBearerAuth_names_the_realm_that_SignInAsync_takes()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await NetHost.StartAsync(n => n.AddClient("orders", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth("customer", a => a.WithRefreshEndpoint("/auth/refresh"))));

        await net.Client.SignInAsync("customer", tokens.SignIn());
        var response = await net.Client.SendAsync(NetRequest.Get("orders", "/api/x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Assert.ThrowsAsync<Errors.InvalidRequestException>(() => net.Client.SignInAsync("orders", tokens.SignIn()));
    }

    [Fact]
    public async Task Auth_events_are_logged_under_NetActors_Auth_with_named_properties_and_the_401_attempt_is_in_the_request_log()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var logs = new LogCapture();
        var session = tokens.SignIn(expired: true);
        await using var net = await AuthTestHost.StartAsync(upstream, logs: logs);
        await net.Client.SignInAsync("api", session with { ExpiresAt = null });   // the client does not know it expired

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.Assert(() => Assert.Contains(logs.Lines, l => l.StartsWith("Information NetActors.Auth: Auth realm api: refreshed token (version 2)")));
        var lines = logs.Lines.ToList();
        var refreshed = lines.FindIndex(l => l.StartsWith("Information NetActors.Auth: Auth realm api: refreshed token"));
        Assert.Contains("  Realm=api", lines.Skip(refreshed).Take(6));
        Assert.Contains("  TokenVersion=2", lines.Skip(refreshed).Take(6));
        await Eventually.Assert(() => Assert.Contains(logs.Lines, l => l.StartsWith("Debug NetActors.Requests: GET") &&
            l.Contains("-> 401") && l.Contains("attempt 1") && l.Contains("retrying with a newer token")));
        Assert.DoesNotContain(session.AccessToken, logs.All);
        Assert.DoesNotContain(session.RefreshToken!, logs.All);
        Assert.DoesNotContain(tokens.CurrentAccessToken, logs.All);
    }
}
