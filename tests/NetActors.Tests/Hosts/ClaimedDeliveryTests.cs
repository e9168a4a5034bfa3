using NetActors.Hosts;

namespace NetActors.Tests.Hosts;

/// <summary>
/// A plain 2xx is handed to its caller by the thread that read it. With inline socket completions
/// (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1) that thread is the socket engine's own, not a pool thread: the
/// caller's code after its await must not run there, or it would hold up every socket's I/O.
/// </summary>
public sealed class ClaimedDeliveryTests
{
    [Fact]
    public async Task A_response_claimed_on_a_thread_outside_the_pool_reaches_its_caller_on_a_pool_thread()
    {
        var ex = Exchange.ForTask(NetRequest.Get("api", "/x"), CancellationToken.None);
        ex.Target = new Uri("http://127.0.0.1/x");
        Assert.True(ex.TryClaim());
        var ranOnPool = new TaskCompletionSource<(bool Pool, int Thread)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var caller = ex.Task.ContinueWith(_ => ranOnPool.TrySetResult((Thread.CurrentThread.IsThreadPoolThread,
            Environment.CurrentManagedThreadId)), TaskContinuationOptions.ExecuteSynchronously);

        var deliveringThread = 0;
        var socketEngine = new Thread(() =>
        {
            deliveringThread = Environment.CurrentManagedThreadId;
            using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK);
            ex.CompleteClaimed(ex.ResponseOf(response, default));
        }) { IsBackground = true };
        socketEngine.Start();
        socketEngine.Join();

        var (pool, thread) = await ranOnPool.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await caller;
        Assert.True(pool, "the caller's continuation ran on the thread outside the pool that claimed the response");
        Assert.NotEqual(deliveringThread, thread);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await ex.Task).StatusCode);
    }

    [Fact]
    public async Task A_response_claimed_on_a_pool_thread_reaches_its_caller_on_that_thread_without_another_hop()
    {
        var ex = Exchange.ForTask(NetRequest.Get("api", "/x"), CancellationToken.None);
        ex.Target = new Uri("http://127.0.0.1/x");
        Assert.True(ex.TryClaim());
        var continuationThread = 0;
        var caller = ex.Task.ContinueWith(_ => continuationThread = Environment.CurrentManagedThreadId,
            TaskContinuationOptions.ExecuteSynchronously);

        var deliveringThread = await Task.Run(() =>
        {
            using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK);
            ex.CompleteClaimed(ex.ResponseOf(response, default));
            return Environment.CurrentManagedThreadId;
        });

        await caller.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(deliveringThread, continuationThread);
    }
}
