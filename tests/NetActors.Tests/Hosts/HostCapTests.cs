using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class HostCapTests
{
    [Fact]
    public async Task Two_hundred_concurrent_requests_under_cap_6_all_succeed_and_never_exceed_6()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/work", async ctx =>
        {
            await Task.Yield();
            await TestUpstream.Write(ctx, 200, "{\"ok\":true}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(6));

        var tasks = Enumerable.Range(0, 200)
            .Select(i => net.Client.SendAsync(NetRequest.Get("api", "/work").WithHeader("X-Seq", i.ToString())))
            .ToList();
        var responses = await Task.WhenAll(tasks);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(200, upstream.Count("/work"));
        Assert.InRange(upstream.MaxConcurrent, 1, 6);

        // FIFO: request j is dispatched only after 0..j-1 were, when at most 5 others are on the wire, so at
        // least j-5 requests reached the server before it. (A request stalled on the server may be overtaken by
        // later ones on the other 5 slots, so only this side is a bound; exact order is checked with cap 1.)
        var arrivals = upstream.Seen.Select(s => int.Parse(s.Headers["X-Seq"])).ToList();
        for (var position = 0; position < arrivals.Count; position++)
        {
            Assert.True(arrivals[position] <= position + 5, $"request {arrivals[position]} arrived at position {position}");
        }
    }

    [Fact]
    public async Task With_one_connection_requests_start_in_exact_fifo_order()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.Map("/first", gate.PassAsync);
        upstream.Respond("/next", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1));

        var first = net.Client.SendAsync(NetRequest.Get("api", "/first"));
        await gate.WaitForArrivalsAsync(1);
        var rest = Enumerable.Range(0, 50)
            .Select(i => net.Client.SendAsync(NetRequest.Get("api", "/next").WithHeader("X-Seq", i.ToString())))
            .ToList();
        gate.Open();
        await first;
        await Task.WhenAll(rest);

        var order = upstream.Seen.Where(s => s.Path == "/next").Select(s => int.Parse(s.Headers["X-Seq"])).ToList();
        Assert.Equal(Enumerable.Range(0, 50), order);
        Assert.Equal(1, upstream.MaxConcurrent);
    }

    [Fact]
    public async Task Full_queue_rejects_overflow_at_once_and_every_other_request_completes()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/slow", gate);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2).WithQueueCapacity(5));

        var tasks = Enumerable.Range(0, 20).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/slow?i={i}"))).ToList();
        await gate.WaitForArrivalsAsync(2);

        // While the gate is closed: 2 in flight, 5 queued, the other 13 already answered with Overloaded.
        var overloaded = await Task.WhenAll(tasks.Skip(7).Select(t => Assert.ThrowsAsync<OverloadedException>(() => t)));
        Assert.Equal(13, overloaded.Length);
        Assert.All(tasks.Take(7), t => Assert.False(t.IsCompleted));
        Assert.Contains("queue", overloaded[0].Message);

        gate.Open();
        var ok = await Task.WhenAll(tasks.Take(7));
        Assert.All(ok, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(7, upstream.Count("/slow"));
        Assert.Equal(2, upstream.MaxConcurrent);
    }

    [Fact]
    public async Task Tell_and_ask_to_the_gateway_get_the_same_outcomes_as_the_facade()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/hello", 200, "{\"name\":\"world\"}");
        upstream.Respond("/missing", 404, null);
        await using var net = await NetHost.StartAsync(upstream);

        var response = await Akka.Actor.Futures.Ask<NetResponse>(net.Gateway, NetRequest.Get("api", "/hello"), TimeSpan.FromSeconds(10));
        Assert.Equal("{\"name\":\"world\"}", response.ReadAsString());

        await Assert.ThrowsAsync<NotFoundException>(() =>
            Akka.Actor.Futures.Ask<NetResponse>(net.Gateway, NetRequest.Get("api", "/missing"), TimeSpan.FromSeconds(10)));
    }
}
