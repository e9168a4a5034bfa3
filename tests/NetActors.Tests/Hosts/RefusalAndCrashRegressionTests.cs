using System.Net;
using Akka.Actor;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosts;
using NetActors.Resilience;
using NetActors.Telemetry;

namespace NetActors.Tests.Hosts;

/// <summary>
/// Two bugs the origin model found, against a real Kestrel server: a request refused for shutdown had no clock
/// of its own while its error hook ran, and the follower of a request whose message crashed the host actor was
/// admitted again twice, so it went on the wire twice.
/// </summary>
public sealed class RefusalAndCrashRegressionTests
{
    [Fact]
    public async Task A_request_refused_for_shutdown_keeps_its_own_total_timeout_while_its_error_hook_runs()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        var hook = new StuckErrorHook();
        await using var net = await NetHost.StartAsync(upstream, c => c.AddInterceptor(hook));
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        var hostActor = await net.System.ActorSelection("/user/netactors/host-1").ResolveOne(TimeSpan.FromSeconds(5));
        hostActor.Tell(Drain.Instance); // in the host's mailbox before the next request reaches it through the gateway

        var refused = net.Client.SendAsync(NetRequest.Get("api", "/ok").WithTimeout(TimeSpan.FromSeconds(1)));
        await hook.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The hook holds the shutdown error past the request's budget: the caller gets its timeout, of its own
        // total timeout (it was a timeout of zero, due at once, when the refusal came before the clock started).
        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => refused.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        hook.Release.SetResult();
    }

    [Fact]
    public async Task The_follower_of_a_request_whose_message_crashed_the_host_goes_on_the_wire_once()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Map("/ref", async ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                arrived.TrySetResult();
                await release.Task;
                ctx.Response.StatusCode = 503; // a failure: the host decides on a retry, and its jitter source throws
                return;
            }

            ctx.Response.StatusCode = 200;
            await ctx.Response.WriteAsync("{}");
        });

        using var system = ActorSystem.Create("crash-in-hand");
        var origin = upstream.Origin;
        var client = new ClientSettings
        {
            Name = "api",
            BaseAddress = upstream.BaseAddress,
            MaxConnections = 2,
            QueueCapacity = 4,
            Deduplicate = true,
            TotalTimeout = TimeSpan.FromSeconds(30),
        };
        var ledger = new AdmissionLedger(client.MaxConnections, client.QueueCapacity, TimeProvider.System);
        var throwing = 1;
        var context = new HostContext(system.DeadLetters, new Dictionary<string, RealmRoute>(), TimeProvider.System,
            new NetMetrics(), new RequestLog(NullLogger.Instance), new NetActors.Caching.CacheRegistry(), _ => NetJson.Default,
            (_, _) => new HttpMessageInvoker(new SocketsHttpHandler()), () => 1,
            () => Interlocked.Exchange(ref throwing, 0) == 1 ? throw new InvalidOperationException("a bug (test)") : 0.5);
        var host = system.ActorOf(HostActor.Props(context, origin, client, ledger));

        Exchange Send()
        {
            var ex = Exchange.ForTask(NetRequest.Get("api", "/ref"), CancellationToken.None);
            ex.Client = client;
            ex.OriginKey = origin;
            Assert.True(ledger.TryEnter(ex));
            host.Tell(ex);
            return ex;
        }

        var leader = Send();
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var follower = Send(); // follows the leader's call, in the host's mailbox order
        await Eventually.Assert(() => Assert.Equal(ExchangeState.Following, follower.State));
        release.SetResult();

        await Assert.ThrowsAsync<NetRuntimeException>(() => leader.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HttpStatusCode.OK, (await follower.Task.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        await Eventually.Assert(() => Assert.True(ledger.IsEmpty && ledger.InFlight.Count == 0));
        Assert.Equal(2, Volatile.Read(ref calls)); // the leader's call and the follower's own, not the follower's twice
    }

    /// <summary>An OnError hook that waits until the test releases it.</summary>
    private sealed class StuckErrorHook : NetInterceptor
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override string Name => "stuck";

        public override async ValueTask OnErrorAsync(Exception error, NetInterceptorContext context, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Release.Task.ConfigureAwait(false);
        }
    }
}
