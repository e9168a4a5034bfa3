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
    public async Task A_POST_redirected_back_to_its_own_address_is_not_sent_there_twice()
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

        // A POST without key reaches each address once: the loop back to /loop is its answer, not another send.
        Assert.Equal(HttpStatusCode.TemporaryRedirect, error.StatusCode);
        Assert.Equal(1, posts);
        Assert.Equal(1, error.Attempts);
    }

    [Fact]
    public async Task A_POST_in_a_redirect_loop_between_two_addresses_reaches_each_once()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/a", ctx =>
        {
            ctx.Response.Headers.Location = "/b";
            return TestUpstream.Write(ctx, 307, null);
        });
        upstream.Map("/b", ctx =>
        {
            ctx.Response.Headers.Location = "/a";
            return TestUpstream.Write(ctx, 308, null);
        });
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAnyAsync<Errors.NetException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/a", NetContent.Bytes(new byte[] { 1 }, "application/octet-stream"))));

        Assert.Equal(HttpStatusCode.PermanentRedirect, error.StatusCode);
        Assert.Equal(["/a", "/b"], upstream.Seen.Select(r => r.Path).ToList());
    }
}
