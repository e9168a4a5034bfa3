using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Tests.Telemetry;

public sealed class SecretRedactionTests
{
    [Fact]
    public async Task Authorization_header_and_access_token_query_never_reach_the_logs()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        upstream.Respond("/fail", 500, "{}");
        upstream.Map("/redirect", ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = "/ok?access_token=SECRET-REDIRECT";
            return Task.CompletedTask;
        });
        var logs = new LogCapture();
        await using (var net = await NetHost.StartAsync(upstream, logs: logs))
        {
            await net.Client.SendAsync(NetRequest.Get("api", "/ok?access_token=SECRET-QUERY&page=2")
                .WithHeader("Authorization", "Bearer SECRET-BEARER")
                .WithHeader("Cookie", "session=SECRET-COOKIE"));
            await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(
                NetRequest.Get("api", "/fail?password=SECRET-PASSWORD&api_key=SECRET-KEY")
                    .WithHeader("Authorization", "Bearer SECRET-BEARER")));
            await net.Client.SendAsync(NetRequest.Get("api", "/redirect"));
        }

        var all = logs.All;
        Assert.Contains("/ok?access_token=***&page=2", all);   // the request was logged, redacted
        Assert.Contains("/fail?password=***&api_key=***", all);
        foreach (var secret in new[] { "SECRET-QUERY", "SECRET-BEARER", "SECRET-COOKIE", "SECRET-PASSWORD", "SECRET-KEY", "SECRET-REDIRECT" })
        {
            Assert.DoesNotContain(secret, all);
        }

        // The upstream did receive them: redaction is for logs, not for the wire.
        Assert.Equal("Bearer SECRET-BEARER", upstream.Seen[0].Headers["Authorization"]);
    }

    [Theory]
    [InlineData("https://api.example.com/p?access_token=abc&x=1", "https://api.example.com/p?access_token=***&x=1")]
    [InlineData("https://example:pw@api.example.com/p?TOKEN=abc", "https://api.example.com/p?TOKEN=***")]
    [InlineData("/p?refresh_token=a&client_secret=b&ok=c", "/p?refresh_token=***&client_secret=***&ok=c")]
    [InlineData("https://api.example.com/p#frag", "https://api.example.com/p")]
    [InlineData("https://api.example.com/p?flag", "https://api.example.com/p?flag")]
    [InlineData("/token?Client_Assertion=eyJhbGciOi&grant_type=x", "/token?Client_Assertion=***&grant_type=x")]
    [InlineData("/token?client%5Fsecret=s3cr3t&CODE=abc", "/token?client%5Fsecret=***&CODE=***")]
    [InlineData("/cb?%2561ccess_token=x&state=1", "/cb?%2561ccess_token=***&state=1")]
    [InlineData("/cb?id_token=a&refresh_token=b&assertion=c", "/cb?id_token=***&refresh_token=***&assertion=***")]
    [InlineData("/p?session=a&sid=b&PHPSESSID=c&JSessionId=d", "/p?session=***&sid=***&PHPSESSID=***&JSessionId=***")]
    [InlineData("/p?=leaked&ok=1", "/p?=***&ok=1")]
    [InlineData("https://shop.example.com/cart;jsessionid=ABC123/items?x=1", "https://shop.example.com/cart;jsessionid=***/items?x=1")]
    [InlineData("/cart;JSESSIONID=ABC123;lang=en", "/cart;JSESSIONID=***;lang=en")]
    [InlineData("https://api.example.com/a;v=2/b", "https://api.example.com/a;v=2/b")]
    [InlineData("/p? token=a&x=1", "/p? token=***&x=1")]
    [InlineData("/p?x=1&token+=a", "/p?x=1&token+=***")]
    [InlineData("/p?x=1&&Token=a", "/p?x=1&&Token=***")]
    [InlineData("https://api.example.com/p?c=1&n=2&Code=3", "https://api.example.com/p?c=1&n=2&Code=***")]
    [InlineData("http:/\\example:pw@api.example.com/p", "http://api.example.com/p")] // Uri reads a backslash as a slash
    [InlineData("HTTPS:\\/example:pw@api.example.com/p?token=a", "https://api.example.com/p?token=***")]
    public void Urls_are_redacted(string url, string expected)
    {
        Assert.Equal(expected, RedactionSettings.Default.Url(url));
    }

    [Fact]
    public void Configured_parameters_and_headers_are_redacted_too()
    {
        var redaction = RedactionSettings.Create(["session_id"], ["X-Internal-Secret"]);

        Assert.Equal("/p?session_id=***", redaction.Url("/p?session_id=abc"));
        Assert.Equal(RedactionSettings.Mask, redaction.HeaderForDisplay("x-internal-secret", "v"));
        Assert.Equal(RedactionSettings.Mask, redaction.HeaderForDisplay("authorization", "Bearer x"));
        Assert.Equal("v", redaction.HeaderForDisplay("Accept", "v"));
    }

    [Theory]
    [InlineData("/work?c=0&n=17")]
    [InlineData("search?u=http://x.example&page=2")]
    [InlineData("/p?flag&x=")]
    [InlineData("/plain/path")]
    public void A_relative_URL_with_nothing_to_mask_comes_back_as_the_same_text_without_a_copy(string url)
    {
        var shown = RedactionSettings.Default.Url(url);
        Assert.Equal(url, shown);
        Assert.Same(url, shown);
    }

    [Fact]
    public async Task A_clients_own_redaction_list_masks_its_parameters_in_logs_and_exceptions_and_only_for_that_client()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/missing", 404, "{}");
        var logs = new LogCapture();
        await using (var net = await NetHost.StartAsync(n => n
            .AddClient("tenant", c => c.WithBaseAddress(upstream.BaseAddress).WithRedaction(["tenant_key"], ["X-Tenant-Auth"]))
            .AddClient("other", c => c.WithBaseAddress(upstream.BaseAddress)), logs))
        {
            var error = await Assert.ThrowsAsync<NotFoundException>(() =>
                net.Client.SendAsync(NetRequest.Get("tenant", "/missing?tenant_key=SECRET-TENANT&page=1")));
            await Assert.ThrowsAsync<NotFoundException>(() =>
                net.Client.SendAsync(NetRequest.Get("other", "/missing?tenant_key=visible&page=1")));

            Assert.Contains("tenant_key=***&page=1", error.Message);
            Assert.DoesNotContain("SECRET-TENANT", error.Message);
            Assert.Equal(RedactionSettings.Mask, NetActorsSettingsOf(net).Clients["tenant"].Redaction.HeaderForDisplay("x-tenant-auth", "v"));
            Assert.Equal("v", NetActorsSettingsOf(net).Clients["other"].Redaction.HeaderForDisplay("x-tenant-auth", "v"));
        }

        Assert.DoesNotContain("SECRET-TENANT", logs.All);
        Assert.Contains("tenant_key=***&page=1", logs.All);
        Assert.Contains("tenant_key=visible", logs.All);   // the other client has no such rule
    }

    private static NetActors.Configuration.NetActorsSettings NetActorsSettingsOf(NetHost net) =>
        NetActors.Configuration.NetActorsSettings.Create(net.System);
}
