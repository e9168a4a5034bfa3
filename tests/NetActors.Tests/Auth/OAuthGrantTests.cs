using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using NetActors.Auth;

namespace NetActors.Tests.Auth;

public sealed class OAuthGrantTests
{
    /// <summary>A minimal RFC 6749 token endpoint: client_credentials and rotating refresh_token grants.</summary>
    private sealed class OAuthServer
    {
        private readonly ConcurrentDictionary<string, bool> _validAccess = new();
        private readonly ConcurrentDictionary<string, bool> _liveRefresh = new();
        private int _n;

        public ConcurrentQueue<IFormCollection> Forms { get; } = new();

        public ConcurrentQueue<string> BasicHeaders { get; } = new();

        public string IssueRefresh()
        {
            var refresh = "rt-" + Interlocked.Increment(ref _n);
            _liveRefresh[refresh] = true;
            return refresh;
        }

        public void Install(TestUpstream upstream)
        {
            upstream.Map("/oauth/token", async ctx =>
            {
                var form = await ctx.Request.ReadFormAsync();
                Forms.Enqueue(form);
                BasicHeaders.Enqueue(ctx.Request.Headers.Authorization.ToString());
                var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("svc:s3cret"));
                var basicOk = ctx.Request.Headers.Authorization.ToString() == expected;
                var postOk = form["client_id"] == "svc" && form["client_secret"] == "s3cret";
                if (!basicOk && !postOk && form["client_id"] != "public-app")
                {
                    ctx.Response.StatusCode = 401;
                    await ctx.Response.WriteAsync("{\"error\":\"invalid_client\"}");
                    return;
                }

                string? newRefresh = null;
                if (form["grant_type"] == "refresh_token")
                {
                    if (!_liveRefresh.TryRemove(form["refresh_token"].ToString(), out _))
                    {
                        ctx.Response.StatusCode = 400;
                        await ctx.Response.WriteAsync("{\"error\":\"invalid_grant\"}");
                        return;
                    }

                    newRefresh = IssueRefresh();   // rotation: the used one is gone
                }
                else if (form["grant_type"] != "client_credentials")
                {
                    ctx.Response.StatusCode = 400;
                    await ctx.Response.WriteAsync("{\"error\":\"unsupported_grant_type\"}");
                    return;
                }

                var access = "at-" + Interlocked.Increment(ref _n);
                _validAccess[access] = true;
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(newRefresh is null
                    ? $"{{\"access_token\":\"{access}\",\"token_type\":\"Bearer\",\"expires_in\":3600}}"
                    : $"{{\"access_token\":\"{access}\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_token\":\"{newRefresh}\"}}");
            });
            upstream.Map("/api/*", async ctx =>
            {
                var header = ctx.Request.Headers.Authorization.ToString();
                if (!header.StartsWith("Bearer ") || !_validAccess.ContainsKey(header[7..]))
                {
                    ctx.Response.StatusCode = 401;
                    return;
                }

                await TestUpstream.Write(ctx, 200, "{}");
            });
        }

        public void RevokeAllAccess() => _validAccess.Clear();
    }

    [Fact]
    public async Task Client_credentials_fetches_a_token_once_for_a_burst_without_any_sign_in()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var oauth = new OAuthServer();
        oauth.Install(upstream);
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthClientCredentials("/oauth/token", "svc", "s3cret", scope: "orders.read"))));

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/o/{i}"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var form = Assert.Single(oauth.Forms);
        Assert.Equal("client_credentials", form["grant_type"]);
        Assert.Equal("orders.read", form["scope"]);
        Assert.StartsWith("Basic ", Assert.Single(oauth.BasicHeaders));
    }

    [Fact]
    public async Task Refresh_token_grant_keeps_the_rotated_refresh_token_across_refreshes()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var oauth = new OAuthServer();
        oauth.Install(upstream);
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthRefreshToken("/oauth/token", "public-app"))));
        await net.Client.SignInAsync("api", new TokenSet("expired-at", oauth.IssueRefresh()));

        for (var round = 0; round < 3; round++)
        {
            oauth.RevokeAllAccess();
            var burst = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/{round}/{i}"))));
            Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        }

        var forms = oauth.Forms.ToList();
        Assert.Equal(3, forms.Count);
        Assert.All(forms, f => Assert.Equal("refresh_token", f["grant_type"]));
        Assert.All(forms, f => Assert.Equal("public-app", f["client_id"]));
        Assert.Equal(3, forms.Select(f => f["refresh_token"].ToString()).Distinct().Count());   // each refresh used the rotated one
    }
}
