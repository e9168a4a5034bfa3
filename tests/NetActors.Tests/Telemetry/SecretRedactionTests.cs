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
}
