using System.Net;
using Akka.Actor;
using Microsoft.Extensions.Hosting;
using NetActors.Errors;
using NetActors.Hosts;

namespace NetActors.Tests.Resilience;

public sealed class ShutdownAndCrashTests
{
    [Fact]
    public async Task On_shutdown_queued_requests_fail_at_once_and_in_flight_ones_finish_within_the_drain_period()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/slow/*", gate);
        var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2));
        var host = net.Host;

        var tasks = Enumerable.Range(0, 7).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/slow/{i}"))).ToList();
        await gate.WaitForArrivalsAsync(2);
        var stopping = host.StopAsync();

        foreach (var queued in tasks.Skip(2))
        {
            await Assert.ThrowsAsync<NetShutdownException>(() => queued);
        }

        Assert.All(tasks.Take(2), t => Assert.False(t.IsCompleted));
        gate.Open();
        Assert.All(await Task.WhenAll(tasks.Take(2)), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        await stopping;
        await Assert.ThrowsAsync<NetShutdownException>(() => net.Client.SendAsync(NetRequest.Get("api", "/slow/late")));
        host.Dispose();
    }

    [Fact]
    public async Task In_flight_requests_that_outlast_the_drain_period_fail_with_a_shutdown_error()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/hang", ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted));
        var net = await NetHost.StartAsync(n => n
            .WithHocon("netactors.shutdown.drain-timeout = 300ms")
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));
        var host = net.Host;

        var hanging = net.Client.SendAsync(NetRequest.Get("api", "/hang"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/hang")));
        await host.StopAsync();

        await Assert.ThrowsAsync<NetShutdownException>(() => hanging.WaitAsync(TimeSpan.FromSeconds(10)));
        host.Dispose();
    }

    [Fact]
    public async Task A_crashing_host_actor_is_restarted_and_loses_no_request_and_keeps_the_cap()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/w/*", gate);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2));

        var tasks = Enumerable.Range(0, 10).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/w/{i}"))).ToList();
        await gate.WaitForArrivalsAsync(2);
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(new InjectFault("a bug in the host actor (test)"));
        var after = net.Client.SendAsync(NetRequest.Get("api", "/w/after"));
        gate.Open();

        var responses = await Task.WhenAll(tasks.Append(after)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(11, upstream.Seen.Count);
        Assert.Equal(2, upstream.MaxConcurrent);
    }

}
