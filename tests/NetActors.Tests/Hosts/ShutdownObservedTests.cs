using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

// Non-parallel: the unobserved-exception event is process-wide, so no other test's garbage may be collected meanwhile.
[Collection(TimingCollection.Name)]
public sealed class ShutdownObservedTests
{
    [Fact]
    public async Task Shutdown_with_a_host_that_has_not_drained_leaves_no_unobserved_task_exception()
    {
        CollectGarbage();   // what earlier tests left behind is not this test's
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await ShutDownWithAHangingRequestAsync();
            CollectGarbage();
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.Empty(unobserved);
    }

    private static async Task ShutDownWithAHangingRequestAsync()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/hang", ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted));
        var net = await NetHost.StartAsync(n => n
            .WithHocon("netactors.shutdown.drain-timeout = 300ms")
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));

        var hanging = net.Client.SendAsync(NetRequest.Get("api", "/hang"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/hang")));
        // The host is still waiting for its request when the drain timeout passes.
        await net.Host.StopAsync();
        await Assert.ThrowsAsync<NetShutdownException>(() => hanging.WaitAsync(TimeSpan.FromSeconds(10)));
        net.Host.Dispose();
    }

    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
