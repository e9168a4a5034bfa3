using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using static NetActors.Tests.Caching.CacheResponses;

namespace NetActors.Tests.Caching;

/// <summary>Unsafe requests remove what is stored for their URL.</summary>
public sealed class CacheInvalidationTests
{
    [Fact]
    public async Task A_successful_unsafe_request_removes_the_stored_response_of_its_url()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var version = 1;
        upstream.Map("/profile", ctx => ctx.Request.Method == "PUT"
            ? TestUpstream.Write(ctx, 204, null)
            : Answer(ctx, $"{{\"v\":{version}}}", "max-age=300"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/profile"));
        version = 2;
        await net.Client.SendAsync(NetRequest.Put("api", "/profile", NetContent.Json(new { v = 2 })));
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/profile"));

        Assert.False(after.FromCache);
        Assert.Equal("{\"v\":2}", after.ReadAsString());
    }

    [Fact]
    public async Task A_POST_answered_with_303_invalidates_its_url()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var orders = 1;
        upstream.Map("/orders", ctx =>
        {
            if (ctx.Request.Method == "POST")
            {
                orders++;
                ctx.Response.Headers.Location = "/orders/latest";
                return TestUpstream.Write(ctx, 303, null);
            }

            ctx.Response.Headers.CacheControl = "max-age=300";
            return TestUpstream.Write(ctx, 200, $"{{\"count\":{orders}}}");
        });
        upstream.Respond("/orders/latest", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCache());

        await net.Client.SendAsync(NetRequest.Get("api", "/orders"));
        await net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { item = 1 })));
        var after = await net.Client.SendAsync(NetRequest.Get("api", "/orders"));

        Assert.False(after.FromCache);
        Assert.Equal("{\"count\":2}", after.ReadAsString());
    }
}
