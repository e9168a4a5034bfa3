using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace NetActors.Tests.Hosts;

/// <summary>
/// A POST without an idempotency key goes on the wire at most once per address: a 307 or 308 (the server did not
/// act, and asks for the request elsewhere) sends the same POST and body to the new address once; a 301, 302 or
/// 303 turns it into a GET without a body; nothing is ever sent twice to the same address.
/// </summary>
public sealed class PostRedirectTests
{
    [Theory]
    [InlineData(307, "POST", "order-17")]
    [InlineData(308, "POST", "order-17")]
    [InlineData(301, "GET", "")]
    [InlineData(302, "GET", "")]
    [InlineData(303, "GET", "")]
    public async Task A_redirected_POST_without_key_reaches_each_address_once(int status, string method, string body)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var seen = new ConcurrentQueue<(string Path, string Method, string Body)>();
        upstream.Map("/orders", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            seen.Enqueue(("/orders", ctx.Request.Method, await reader.ReadToEndAsync()));
            ctx.Response.Headers.Location = "/orders/v2";
            await TestUpstream.Write(ctx, status, null);
        });
        upstream.Map("/orders/v2", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            seen.Enqueue(("/orders/v2", ctx.Request.Method, await reader.ReadToEndAsync()));
            await TestUpstream.Write(ctx, 201, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream);

        var response = await net.Client.SendAsync(NetRequest.Post("api", "/orders",
            NetContent.Bytes(Encoding.UTF8.GetBytes("order-17"), "text/plain")));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(2, response.Attempts);
        Assert.Equal(
            [("/orders", "POST", "order-17"), ("/orders/v2", method, body)],
            seen.ToArray());
    }

    [Fact]
    public async Task A_POST_redirected_back_to_its_own_address_is_not_sent_there_twice_past_max_redirects()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var posts = 0;
        upstream.Map("/loop", async ctx =>
        {
            Interlocked.Increment(ref posts);
            ctx.Response.Headers.Location = "/loop";
            await TestUpstream.Write(ctx, 307, null);
        });
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAnyAsync<Errors.NetException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/loop", NetContent.Bytes(new byte[] { 1, 2, 3 }, "application/octet-stream"))));

        // Each hop is the server asking again; the bound is max-redirects (reference default), never a retry.
        Assert.Equal(HttpStatusCode.TemporaryRedirect, error.StatusCode);
        Assert.Equal(posts, error.Attempts);
        Assert.True(posts <= 1 + new NetActors.Configuration.ClientSettings { Name = "api" }.MaxRedirects, $"{posts} POSTs for a redirect loop");
    }
}
