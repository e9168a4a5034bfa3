using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Tests.Resilience;

public sealed class DedupInterceptorTests
{
    [Fact]
    public async Task Fifty_identical_concurrent_gets_share_one_wire_request_and_each_caller_gets_the_body()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/ref", gate, "{\"countries\":[\"NL\",\"BE\"]}");
        await using var net = await NetHost.StartAsync(upstream);

        var tasks = Enumerable.Range(0, 50).Select(_ => net.Client.SendAsync(NetRequest.Get("api", "/ref"))).ToList();
        await gate.WaitForArrivalsAsync(1);
        using var cancelOne = new CancellationTokenSource();
        var cancelled = net.Client.SendAsync(NetRequest.Get("api", "/ref"), cancelOne.Token);
        upstream.Respond("/barrier", 200, "{}");
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the cancelled one is attached by now
        cancelOne.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        gate.Open();
        var responses = await Task.WhenAll(tasks);

        Assert.Equal(1, upstream.Count("/ref"));
        Assert.All(responses, r => Assert.Equal("{\"countries\":[\"NL\",\"BE\"]}", r.ReadAsString()));
        Assert.Equal(49, responses.Count(r => r.Deduplicated));
        Assert.Equal(50, responses.Select(r => r.Request).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public async Task Cancelling_the_first_caller_does_not_cancel_the_shared_call_while_others_wait()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/ref", gate);
        await using var net = await NetHost.StartAsync(upstream);

        using var leaderCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/ref"), leaderCts.Token);
        await gate.WaitForArrivalsAsync(1);
        var follower = net.Client.SendAsync(NetRequest.Get("api", "/ref"));
        // Requests reach the host in the order they were sent: once this one is answered the follower is attached.
        upstream.Respond("/barrier", 200, "{}");
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));
        leaderCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        gate.Open();

        Assert.Equal(HttpStatusCode.OK, (await follower).StatusCode);
        Assert.Equal(1, upstream.Count("/ref"));
    }

    [Fact]
    public async Task A_follower_of_a_leader_whose_caller_cancelled_gets_its_own_wire_request()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        var gate = new Gate();
        upstream.Map("/ref", async ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await gate.PassAsync(ctx);   // the leader's call: held until its caller gives up
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream);

        using var leaderCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/ref"), leaderCts.Token);
        await gate.WaitForArrivalsAsync(1);
        leaderCts.Cancel();   // no follower yet: the call is aborted
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        var follower = await net.Client.SendAsync(NetRequest.Get("api", "/ref")).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, follower.StatusCode);
    }

    [Fact]
    public async Task A_request_can_opt_out_of_deduplication()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/ref", gate);
        await using var net = await NetHost.StartAsync(upstream);

        var a = net.Client.SendAsync(NetRequest.Get("api", "/ref").WithoutDeduplication());
        var b = net.Client.SendAsync(NetRequest.Get("api", "/ref").WithoutDeduplication());
        await gate.WaitForArrivalsAsync(2);
        gate.Open();
        await Task.WhenAll(a, b);

        Assert.Equal(2, upstream.Count("/ref"));
    }

    private sealed class TenantHeader : NetInterceptor
    {
        public override ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context, CancellationToken ct)
        {
            request.Headers.Add("X-Tenant", "acme");
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Exploding : NetInterceptor
    {
        public override string Name => "exploding-audit";

        public override ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context, CancellationToken ct) =>
            request.RequestUri!.AbsolutePath.EndsWith("/13") ? throw new InvalidOperationException("audit store unavailable") : ValueTask.CompletedTask;
    }

    private sealed class Recorder : NetInterceptor
    {
        public int Responses;
        public int Errors;

        public override ValueTask OnResponseAsync(NetResponse response, NetInterceptorContext context, CancellationToken ct)
        {
            Interlocked.Increment(ref Responses);
            return ValueTask.CompletedTask;
        }

        public override ValueTask OnErrorAsync(Exception error, NetInterceptorContext context, CancellationToken ct)
        {
            Interlocked.Increment(ref Errors);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_throwing_interceptor_fails_only_its_request_and_the_other_99_succeed()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/items/*", 200, "{}");
        var recorder = new Recorder();
        await using var net = await NetHost.StartAsync(upstream, c => c
            .AddInterceptor(new TenantHeader()).AddInterceptor(new Exploding()).AddInterceptor(recorder));

        var tasks = Enumerable.Range(0, 100).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/items/{i}"))).ToList();
        var outcomes = await Task.WhenAll(tasks.Select(Outcomes.Of));

        Assert.Equal(99, outcomes.Count(o => o.Response is not null));
        var failure = Assert.IsType<NetInterceptorException>(outcomes.Single(o => o.Error is not null).Error);
        Assert.Equal("exploding-audit", failure.Interceptor);
        Assert.Equal("OnRequest", failure.Hook);
        Assert.Contains("audit store unavailable", failure.Message);
        Assert.Equal(99, upstream.Seen.Count);
        Assert.All(upstream.Seen, s => Assert.Equal("acme", s.Headers["X-Tenant"]));
        Assert.Equal(99, recorder.Responses);
        Assert.Equal(1, recorder.Errors);
    }
}
