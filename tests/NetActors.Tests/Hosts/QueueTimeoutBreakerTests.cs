using System.Collections.Concurrent;
using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

[Collection(TimingCollection.Name)]
public sealed class QueueTimeoutBreakerTests
{
    [Fact]
    public async Task A_queue_deeper_than_the_total_timeout_allows_times_out_late_requests_but_never_opens_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        // A healthy upstream: every request answered 200 after 100 ms of work.
        upstream.Map("/work", async ctx =>
        {
            await Task.Delay(100, ctx.RequestAborted);   // the server's own work, not a synchronisation
            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(2)
            .WithResponseTimeout(TimeSpan.FromSeconds(2))
            .WithTotalTimeout(TimeSpan.FromSeconds(2))
            .WithRetryDelays(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200)));

        // 60 callers, each sending its next request when the last one ended: about 58 wait behind 2 slots
        // serving 20 requests a second, a wait near one and a half times the total timeout, so the queue stays
        // deeper than the budget allows and requests leave it with only the last crumbs of their budget.
        var outcomes = new ConcurrentQueue<Exception?>();
        await Task.WhenAll(Enumerable.Range(0, 60).Select(async caller =>
        {
            for (var i = 0; i < 6; i++)
            {
                var (_, error) = await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/work").WithoutDeduplication()));
                outcomes.Enqueue(error);
            }
        })).WaitAsync(TimeSpan.FromSeconds(60));

        var all = outcomes.ToArray();
        Assert.Equal(360, all.Length);
        Assert.Equal(0, all.Count(e => e is CircuitOpenException));
        Assert.All(all, e => Assert.True(e is null or NetTimeoutException, $"unexpected outcome {e}"));
        Assert.Contains(all, e => e is NetTimeoutException);   // the queue was deeper than the budget
        Assert.Contains(all, e => e is null);
        // No check of the server's concurrency here: attempts armed with the last crumbs of their budget are
        // aborted on the wire, and the server notices an aborted request a moment after the client has freed
        // its slot. The cap itself is tested where no attempt is aborted (HostCapTests).
    }
}
