using System.Net;
using NetActors.Configuration;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class AdmissionAtTheEdgeTests
{
    [Fact]
    public async Task A_full_origin_answers_overloaded_before_send_returns_without_waiting_behind_the_actors_mailbox()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/busy/*", gate);
        upstream.Respond("/late/*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithQueueCapacity(1));
        using var metrics = new MetricsCapture(net.Services);
        var origin = Origins.KeyOf(upstream.BaseAddress);

        // Fill the origin: one request on the wire, one held in its queue.
        var onWire = net.Client.SendAsync(NetRequest.Get("api", "/busy/1"));
        await gate.WaitForArrivalsAsync(1);
        var held = net.Client.SendAsync(NetRequest.Get("api", "/busy/2"));
        await Eventually.Assert(() =>
        {
            metrics.Sample();
            Assert.Contains(metrics.All, m => m.Instrument == "netactors.origin.queue_length" && m.Value == 1 &&
                                              (string?)m.Tags["netactors.origin"] == origin);
        });

        // Every further request is answered by the time SendAsync returns: no message to the actor, no wait
        // behind the admissions and completions in its mailbox.
        for (var i = 0; i < 100; i++)
        {
            var rejected = net.Client.SendAsync(NetRequest.Get("api", $"/late/{i}"));
            Assert.True(rejected.IsCompleted, $"request {i} to a full origin was not answered at once");
            Assert.IsType<OverloadedException>(rejected.Exception?.InnerException);
        }

        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await onWire).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/late/after"))).StatusCode);
        Assert.Equal(1, upstream.Count("/late/after"));
        Assert.Equal(1, upstream.Seen.Count(r => r.Path.StartsWith("/late/", StringComparison.Ordinal)));
    }
}
