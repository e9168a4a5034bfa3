using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Resilience;

namespace NetActors.Tests.Hosts;

/// <summary>An OnRequest hook that does not observe its token on <c>/stuck</c> (a user bug, as the design says hooks have).</summary>
internal sealed class Stuck : NetInterceptor
{
    public override string Name => "stuck-hook";

    /// <summary>Completes once a /stuck request is inside the hook.</summary>
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context, CancellationToken ct)
    {
        if (request.RequestUri!.AbsolutePath == "/stuck")
        {
            Entered.TrySetResult();
            await new TaskCompletionSource().Task.ConfigureAwait(false); // ignores ct
        }
    }
}

/// <summary>Outside review of the admission ledger (issue 12): paths where the promises break.</summary>
[Collection(TimingCollection.Name)]
public sealed class HostileReviewTests
{
    [Fact]
    public async Task A_request_whose_OnRequest_hook_ignores_its_token_still_gets_an_outcome_within_its_total_timeout()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithResponseTimeout(TimeSpan.FromMilliseconds(500))
            .WithTotalTimeout(TimeSpan.FromSeconds(3))
            .AddInterceptor(new Stuck()));

        var stuck = net.Client.SendAsync(NetRequest.Get("api", "/stuck"));
        var done = await Task.WhenAny(stuck, Task.Delay(TimeSpan.FromSeconds(6)));
        Assert.True(done == stuck, "no outcome 6 s after a 3 s total timeout: the request hangs in its OnRequest hook");
        await Assert.ThrowsAnyAsync<Errors.NetException>(() => stuck);

        // And the one slot is free again for other callers.
        var next = net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(TimeSpan.FromSeconds(4))).StatusCode);
    }

    [Fact]
    public async Task Requests_sent_while_the_host_is_disposed_without_StopAsync_all_get_an_outcome()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/slow", async ctx =>
        {
            try { await Task.Delay(TimeSpan.FromSeconds(30), ctx.RequestAborted); } catch (OperationCanceledException) { }
        });
        var host = NetHost.Build(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithMaxConnections(4).WithResponseTimeout(TimeSpan.FromSeconds(2)).WithTotalTimeout(TimeSpan.FromSeconds(5))));
        await host.StartAsync();
        var client = host.Services.GetRequiredService<INetClient>();
        var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
        await client.SendAsync(NetRequest.Get("api", "/warm"), CancellationToken.None).ContinueWith(_ => { });

        var tasks = new System.Collections.Concurrent.ConcurrentBag<Task<NetResponse>>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try { tasks.Add(client.SendAsync(NetRequest.Get("api", "/slow"))); } catch (Exception) { }
                await Task.Yield();
            }
        })).ToList();
        await WhenSent(tasks, 200);
        host.Dispose(); // what `using var host` does when the app throws: no StopAsync
        await WhenSent(tasks, tasks.Count + 200); // and callers keep sending into the disposed runtime
        stop.Cancel();
        await Task.WhenAll(senders);

        var all = tasks.ToList();
        await Task.WhenAny(Task.WhenAll(all), Task.Delay(TimeSpan.FromSeconds(10)));
        var hanging = all.Count(t => !t.IsCompleted);
        try
        {
            Assert.True(hanging == 0, $"{hanging} of {all.Count} requests have no outcome 10 s after disposal (total timeout 5 s)");
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Waits until the senders have sent at least <paramref name="count"/> requests (bounded).</summary>
    private static Task WhenSent(System.Collections.Concurrent.ConcurrentBag<Task<NetResponse>> sent, int count) =>
        Eventually.Assert(() => Assert.True(sent.Count >= count, $"{sent.Count} sent"), TimeSpan.FromSeconds(20));
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewSlotTests
{
    [Fact]
    public async Task After_the_caller_of_a_request_stuck_in_its_OnRequest_hook_cancels_the_slot_serves_the_next_caller()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        var hook = new Stuck();
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithResponseTimeout(TimeSpan.FromMilliseconds(500))
            .WithTotalTimeout(TimeSpan.FromSeconds(3))
            .AddInterceptor(hook));

        using var cts = new CancellationTokenSource();
        var stuck = net.Client.SendAsync(NetRequest.Get("api", "/stuck"), cts.Token);
        await hook.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the attempt is in the hook, holding the slot
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stuck.WaitAsync(TimeSpan.FromSeconds(2)));

        // Another caller, another path, a hook that passes: the only slot is still held by the stuck attempt.
        var next = await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/ok")));
        Assert.True(next.Response?.StatusCode == HttpStatusCode.OK,
            $"the next caller got {next.Error?.GetType().Name}: {next.Error?.Message} (the slot is lost to the stuck hook)");
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewServerTests
{
    [Fact]
    public async Task Half_answers_that_then_hang_end_in_time_for_every_caller_and_free_the_slots()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var held = new System.Collections.Concurrent.ConcurrentBag<System.Net.Sockets.TcpClient>();
        var accepting = Task.Run(async () =>
        {
            while (true)
            {
                System.Net.Sockets.TcpClient socket;
                try { socket = await listener.AcceptTcpClientAsync(); } catch { return; }
                held.Add(socket);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        var stream = socket.GetStream();
                        var buffer = new byte[4096];
                        _ = await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false);
                        var head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"u8.ToArray();
                        await stream.WriteAsync(head);
                        await stream.FlushAsync();
                    }
                    catch { }
                });
            }
        });
        try
        {
            await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
                .WithBaseAddress($"http://127.0.0.1:{port}/")
                .WithMaxConnections(2)
                .WithResponseTimeout(TimeSpan.FromSeconds(1))
                .WithTotalTimeout(TimeSpan.FromSeconds(2))));

            var started = Stopwatch.GetTimestamp();
            var tasks = Enumerable.Range(0, 4).Select(i => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/half/{i}")))).ToList();
            var all = Task.WhenAll(tasks);
            Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(5))) == all, "a caller has no outcome 5 s after a 2 s total timeout");
            Assert.All(await all, o => Assert.IsAssignableFrom<Errors.NetException>(o.Error));
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3));
        }
        finally
        {
            listener.Stop();
            foreach (var s in held) s.Dispose();
        }
    }

    [Fact]
    public async Task A_crash_of_the_host_actor_during_a_Retry_After_wait_does_not_send_the_retry_early()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var arrivals = new System.Collections.Concurrent.ConcurrentQueue<long>();
        upstream.Map("/limited", async ctx =>
        {
            arrivals.Enqueue(Stopwatch.GetTimestamp());
            if (arrivals.Count == 1)
            {
                ctx.Response.Headers.RetryAfter = "3";
                await TestUpstream.Write(ctx, 503, "{}");
                return;
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithResponseTimeout(TimeSpan.FromSeconds(2))
            .WithTotalTimeout(TimeSpan.FromSeconds(10)));

        var call = net.Client.SendAsync(NetRequest.Get("api", "/limited"));
        await Eventually.Assert(() => Assert.Single(arrivals));
        // The 503 is handled: the request now waits out the server's Retry-After: 3, off the wire.
        var ledger = net.Services.GetRequiredService<NetActors.Hosting.NetActorsRuntime>().Router!
            .DeclaredHost(NetActors.Configuration.Origins.KeyOf(upstream.BaseAddress))!.Ledger;
        await Eventually.Assert(() => Assert.True(ledger.InFlight.Count == 0 && ledger.Waiting == 1));
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(new NetActors.Hosts.InjectFault("a bug in the host actor (review)"), Akka.Actor.ActorRefs.NoSender);

        Assert.Equal(HttpStatusCode.OK, (await call.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var times = arrivals.ToArray();
        var gap = Stopwatch.GetElapsedTime(times[0], times[1]);
        Assert.True(gap >= TimeSpan.FromSeconds(2.5), $"the retry went {gap.TotalMilliseconds:0} ms after a 503 with Retry-After: 3");
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewDedupTests
{
    [Fact]
    public async Task A_caller_with_a_short_timeout_leading_a_shared_call_does_not_time_out_the_followers_that_have_time_left()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/slow", async ctx =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1500), ctx.RequestAborted);
            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithResponseTimeout(TimeSpan.FromSeconds(5))
            .WithTotalTimeout(TimeSpan.FromSeconds(10)));

        // One impatient caller leads; nine callers with the client's 10 s budget follow the same GET.
        var leader = Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/slow").WithTimeout(TimeSpan.FromMilliseconds(500))));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/slow")));
        var followers = Enumerable.Range(0, 9).Select(_ => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/slow")))).ToList();

        Assert.IsType<Errors.NetTimeoutException>((await leader).Error);
        var outcomes = await Task.WhenAll(followers).WaitAsync(TimeSpan.FromSeconds(15));
        var failed = outcomes.Where(o => o.Response is null).ToList();
        Assert.True(failed.Count == 0,
            $"{failed.Count} of 9 followers with 10 s left failed with the leader's timeout: {failed.FirstOrDefault().Error?.Message}");
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewCrowdTests
{
    [Fact]
    public async Task A_thousand_concurrent_callers_each_get_one_outcome_the_cap_holds_and_overloaded_is_immediate()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/w/*", async ctx =>
        {
            await Task.Delay(20);
            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(6)
            .WithQueueCapacity(50)
            .WithResponseTimeout(TimeSpan.FromSeconds(5))
            .WithTotalTimeout(TimeSpan.FromSeconds(10)));
        await net.Client.SendAsync(NetRequest.Get("api", "/w/warm"));

        var overloadedLatency = new System.Collections.Concurrent.ConcurrentBag<double>();
        var tasks = Enumerable.Range(0, 1000).Select(i => Task.Run(async () =>
        {
            var started = Stopwatch.GetTimestamp();
            var outcome = await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/w/{i}")));
            if (outcome.Error is Errors.OverloadedException)
            {
                overloadedLatency.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            return outcome;
        })).ToList();
        var outcomes = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(upstream.MaxConcurrent <= 6, $"server saw {upstream.MaxConcurrent} at once");
        var others = outcomes.Where(o => o.Response?.StatusCode != HttpStatusCode.OK && o.Error is not Errors.OverloadedException).ToList();
        Assert.True(others.Count == 0, $"{others.Count} unexpected outcomes, first {others.FirstOrDefault().Error}");
        var sorted = overloadedLatency.Order().ToArray();
        var p99 = sorted.Length == 0 ? 0 : sorted[(int)(sorted.Length * 0.99)];
        Console.WriteLine($"ok {outcomes.Count(o => o.Response is not null)}, overloaded {sorted.Length}, overloaded p99 {p99:0.00} ms, max {(sorted.Length == 0 ? 0 : sorted[^1]):0.00} ms");
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewCrashTests
{
    [Fact]
    public async Task After_a_crash_while_callers_follow_a_shared_call_their_cancellation_still_aborts_it_and_frees_the_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var aborted = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Map("/shared", async ctx =>
        {
            using var _ = ctx.RequestAborted.Register(() => aborted.TrySetResult(Stopwatch.GetTimestamp()));
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        upstream.Respond("/after", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithResponseTimeout(TimeSpan.FromSeconds(20))
            .WithTotalTimeout(TimeSpan.FromSeconds(30)));

        var callers = Enumerable.Range(0, 5).Select(_ => new CancellationTokenSource()).ToList();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/shared"), callers[0].Token);
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/shared")));
        var followers = callers.Skip(1).Select(c => net.Client.SendAsync(NetRequest.Get("api", "/shared"), c.Token)).ToList();
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(new NetActors.Hosts.InjectFault("a bug in the host actor (review)"), Akka.Actor.ActorRefs.NoSender);
        // What follows reaches the host actor after the fault: it is handled by the restarted actor.

        foreach (var c in callers.Skip(1))
        {
            c.Cancel();
        }

        callers[0].Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        foreach (var f in followers)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => f);
        }

        var done = await Task.WhenAny(aborted.Task, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(done == aborted.Task, "the shared call was not aborted 5 s after its last caller left");
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/after")).WaitAsync(TimeSpan.FromSeconds(5))).StatusCode);
        Assert.Equal(1, upstream.Count("/shared"));
        callers.ForEach(c => c.Dispose());
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewCircuitTests
{
    [Fact]
    public async Task A_crash_of_the_host_actor_does_not_close_an_open_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/fail/*", TestUpstream.Abort);
        upstream.Respond("/probe", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxAttempts(1)
            .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));

        for (var i = 0; i < 6; i++)
        {
            await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/fail/{i}")));
        }

        Assert.IsType<Errors.CircuitOpenException>((await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/probe")))).Error);
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(new NetActors.Hosts.InjectFault("a bug in the host actor (review)"), Akka.Actor.ActorRefs.NoSender);
        // The next request reaches the host actor after the fault: the restarted actor answers it.

        var after = await Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/probe")));
        Assert.True(after.Error is Errors.CircuitOpenException,
            $"the circuit was open for 30 s, the actor crashed, and the next request got {(after.Response is not null ? "sent: " + (int)after.Response.StatusCode : after.Error?.GetType().Name)}");
    }
}

[Collection(TimingCollection.Name)]
public sealed class HostileReviewEvictionTests
{
    [Fact]
    public async Task Requests_arriving_just_as_an_idle_origin_is_evicted_all_succeed()
    {
        await using var upstream = await TestUpstream.StartAsync(ports: 2);
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c
            .Set("idle-origin-timeout", "100ms")
            .WithResponseTimeout(TimeSpan.FromSeconds(3))
            .WithTotalTimeout(TimeSpan.FromSeconds(5)));
        var other = upstream.BaseAddresses[1];
        var random = new Random(12);
        var failures = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            // Bursts timed around the idle timeout: some land as the gateway evicts the origin.
            var burst = Enumerable.Range(0, 3).Select(j => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", new Uri(other, $"e/{i}/{j}").ToString())))).ToList();
            foreach (var o in await Task.WhenAll(burst).WaitAsync(TimeSpan.FromSeconds(10)))
            {
                if (o.Response?.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add(o.Error?.GetType().Name + ": " + o.Error?.Message);
                }
            }

            await Task.Delay(90 + random.Next(30));
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures, first: {failures.FirstOrDefault()}");
    }
}
