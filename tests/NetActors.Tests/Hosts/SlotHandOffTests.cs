using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>
/// Under a backlog a completing attempt starts the request next in line in the slot it frees, on its own thread
/// (the hand-off). Its races are between that thread and the host actor: a request next in line that is cancelled
/// or times out while an attempt takes it, a pause or a shutdown while requests are next in line. Over real sockets
/// every request must still get exactly one outcome of a kind its caller allows, the cap must hold on the server,
/// and at the end every place of the origin must be free.
/// </summary>
public sealed class SlotHandOffTests
{
    [Fact]
    public async Task Requests_cancelled_or_timing_out_next_in_line_keep_the_cap_get_one_outcome_each_and_leave_no_place_taken()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/work", async ctx =>
        {
            await Task.Delay(1); // the server's work: calls overlap, so one started outside the cap would show
            await TestUpstream.Write(ctx, 200, "{}");
        });
        var gate = new Gate();
        upstream.MapGated("/held", gate);

        // Counted above the socket handler (whose own MaxConnectionsPerServer would hide an attempt the host actor
        // let through over its cap): every call the runtime starts, until its response headers are back.
        var calls = new ConcurrencyCounter();
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(2).WithQueueCapacity(40)),
            services: s => s.ConfigureHttpClientDefaults(b => b.AddHttpMessageHandler(() => new CountingHandler(calls))));

        var random = new Random(20261203);
        var outcomes = new List<Task<string>>();
        var sources = new List<CancellationTokenSource>();
        for (var wave = 0; wave < 10; wave++)
        {
            for (var i = 0; i < 42; i++)
            {
                var request = NetRequest.Get("api", $"/work?w={wave}&i={i}");
                var kind = random.Next(3);
                var cts = new CancellationTokenSource();
                sources.Add(cts);
                if (kind == 1)
                {
                    cts.CancelAfter(TimeSpan.FromMilliseconds(random.Next(0, 4))); // cancelled queued, next in line or on the wire
                }
                else if (kind == 2)
                {
                    request = request.WithTimeout(TimeSpan.FromMilliseconds(random.Next(5, 40)));
                }

                outcomes.Add(Classify(net.Client.SendAsync(request, cts.Token)));
            }

            await Task.WhenAll(outcomes).WaitAsync(TimeSpan.FromSeconds(30));
        }

        var kinds = outcomes.Select(t => t.Result).ToList();
        Assert.All(kinds, k => Assert.Contains(k, new[] { "ok", "cancelled", "timeout", "overloaded" }));
        Assert.Contains("ok", kinds);
        Assert.InRange(calls.Max, 1, 2);

        // (Not the server's own count: a call aborted by its caller's cancellation closes its connection, and the
        // server finishes the request it was serving a moment after the client's next call arrived on a new one.)

        // Every place is free again: the origin takes its whole capacity (2 on the wire, 40 queued) at once.
        var held = Enumerable.Range(0, 42).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/held?i={i}"))).ToList();
        await gate.WaitForArrivalsAsync(2);
        Assert.All(held, t => Assert.False(t.IsCompleted, t.Exception?.InnerException?.GetType().Name));
        gate.Open();
        var responses = await Task.WhenAll(held).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.InRange(calls.Max, 1, 2);
        sources.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task Followers_of_a_request_next_in_line_whose_caller_left_keep_its_place_at_the_head_of_the_line()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/slow", gate);
        upstream.Respond("/shared", 200, "{}");
        upstream.Respond("/later", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithQueueCapacity(10));

        var slow = net.Client.SendAsync(NetRequest.Get("api", "/slow"));
        await gate.WaitForArrivalsAsync(1);

        // The slot is taken: the leader of /shared is next in line (ready for the hand-off), three identical GETs
        // follow it, and /later queues behind them. Then the leader's own caller leaves.
        using var leaderCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/shared"), leaderCts.Token);
        var followers = Enumerable.Range(0, 3).Select(_ => net.Client.SendAsync(NetRequest.Get("api", "/shared"))).ToList();
        var later = net.Client.SendAsync(NetRequest.Get("api", "/later"));
        leaderCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);

        // /slow's plain 200 hands its slot to the leader, which finds its caller gone: the shared call still goes
        // next, for its followers, before /later (they were ahead of it).
        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await slow.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var shared = await Task.WhenAll(followers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(shared, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, (await later.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);

        var order = upstream.Seen.Select(r => r.Path).ToList();
        Assert.Equal(["/slow", "/shared", "/later"], order);
    }

    [Fact]
    public async Task A_leader_taken_for_a_freed_slot_and_sent_back_unsent_counts_one_attempt_the_one_it_makes_on_the_wire()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/slow", gate);
        upstream.Respond("/shared", 200, "{}");
        upstream.Respond("/later", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithQueueCapacity(10));
        using var metrics = new MetricsCapture(net.Services);

        var slow = net.Client.SendAsync(NetRequest.Get("api", "/slow"));
        await gate.WaitForArrivalsAsync(1);
        using var leaderCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/shared"), leaderCts.Token);
        var followers = Enumerable.Range(0, 3).Select(_ => net.Client.SendAsync(NetRequest.Get("api", "/shared"))).ToList();
        var later = net.Client.SendAsync(NetRequest.Get("api", "/later"));

        // The actor has admitted all five (the leader, made ready next in line, its three followers and /later) before
        // the leader's caller leaves: the completing /slow takes the leader, finds its caller gone and sends it back.
        await Eventually.Assert(() =>
        {
            metrics.Sample();
            Assert.Equal(5, metrics.All.Last(m => m.Instrument == "netactors.origin.queue_length").Value);
        });
        leaderCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);

        gate.Open();
        await slow.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.WhenAll(followers).WaitAsync(TimeSpan.FromSeconds(10));
        await later.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.Assert(() =>
        {
            metrics.Sample();
            Assert.Equal(0, metrics.All.Last(m => m.Instrument == "netactors.origin.active_requests").Value);
        });

        // Three calls reached the server, in order, and three attempts were counted: the leader's trip back unsent is none.
        Assert.Equal(["/slow", "/shared", "/later"], upstream.Seen.Select(r => r.Path).ToList());
        Assert.Equal(3, metrics.Sum("netactors.client.attempts"));
    }

    private sealed class ConcurrencyCounter
    {
        private int _current;
        private int _max;

        public int Max => Volatile.Read(ref _max);

        public void Enter()
        {
            var now = Interlocked.Increment(ref _current);
            for (var max = Volatile.Read(ref _max); now > max; max = Volatile.Read(ref _max))
            {
                if (Interlocked.CompareExchange(ref _max, now, max) == max)
                {
                    break;
                }
            }
        }

        public void Leave() => Interlocked.Decrement(ref _current);
    }

    private sealed class CountingHandler(ConcurrencyCounter calls) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            calls.Enter();
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                calls.Leave();
            }
        }
    }

    private static async Task<string> Classify(Task<NetResponse> send)
    {
        try
        {
            var response = await send.ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK ? "ok" : "status " + (int)response.StatusCode;
        }
        catch (OperationCanceledException)
        {
            return "cancelled";
        }
        catch (NetTimeoutException e) when (e.Kind == TimeoutKind.Total)
        {
            return "timeout";
        }
        catch (OverloadedException)
        {
            return "overloaded";
        }
        catch (Exception e)
        {
            return e.GetType().Name + ": " + e.Message;
        }
    }
}
