using System.Net;
using NetActors.Errors;
using NetActors.Tests.Auth;

namespace NetActors.Tests.Hosts;

/// <summary>At most queue-capacity requests are held off the wire per origin, whatever they wait for.</summary>
public sealed class WaitingStatesQueueCapacityTests
{
    [Fact]
    public async Task Requests_waiting_for_a_token_count_against_the_queue_capacity()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var refresh = new Gate();
        var tokens = new TokenServer { BeforeRefresh = refresh.PassAsync }.Install(upstream);
        await using var net = await AuthTestHost.StartAsync(upstream, maxConnections: 6, client: c => c.WithQueueCapacity(33));
        // The client knows the token has expired: every request waits for the refresh, which the test holds.
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: true));

        var tasks = Enumerable.Range(0, 50).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/item/{i}"))).ToList();
        await refresh.WaitForArrivalsAsync(1);

        // 6 on the wire and 33 held at most: the others are answered Overloaded at once, during the refresh.
        await Eventually.Assert(() => Assert.True(
            tasks.Count(t => t.IsFaulted && t.Exception!.InnerException is OverloadedException) >= 11,
            "at least 11 of 50 requests must be answered Overloaded while the refresh runs"));
        refresh.Open();

        var outcomes = await Task.WhenAll(tasks.Select(Outcomes.Of)).WaitAsync(TimeSpan.FromSeconds(30));
        var ok = outcomes.Count(o => o.Response?.StatusCode == HttpStatusCode.OK);
        var overloaded = outcomes.Count(o => o.Error is OverloadedException);
        Assert.Equal(50, ok + overloaded);
        Assert.InRange(ok, 1, 39);
        Assert.InRange(overloaded, 11, 49);
        Assert.InRange(upstream.MaxConcurrent, 1, 6);
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task Requests_waiting_out_a_retry_delay_count_against_the_queue_capacity()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        upstream.Map("/flaky", ctx => TestUpstream.Write(ctx, Interlocked.Increment(ref calls) == 1 ? 503 : 200, "{}"));
        var gate = new Gate();
        upstream.MapGated("/busy", gate);
        upstream.Respond("/queued/*", 200, "{}");
        // One slot, two held off the wire; a retry waits exactly 3 s (no jitter).
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithQueueCapacity(2)
            .WithRetryDelays(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3))
            .Set("retry.jitter", "0"));

        var retrying = net.Client.SendAsync(NetRequest.Get("api", "/flaky"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/flaky")));
        var busy = net.Client.SendAsync(NetRequest.Get("api", "/busy"));
        await gate.WaitForArrivalsAsync(1);
        // Held off the wire now: the request waiting for its retry, and then the first queued one; the origin is full.
        var queued = net.Client.SendAsync(NetRequest.Get("api", "/queued/1"));
        var overflow = Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/queued/2")));

        var (response, error) = await overflow.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Null(response);
        Assert.IsType<OverloadedException>(error);
        Assert.False(retrying.IsCompleted);
        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await queued).StatusCode);
        Assert.Equal(2, (await retrying).Attempts);
        Assert.Equal(0, upstream.Count("/queued/2"));
    }
}
