using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Resilience;
using NetActors.Configuration;

namespace NetActors.Tests.Resilience;

[Collection(TimingCollection.Name)]
public sealed class RetryTests
{
    [Fact]
    public void Backoff_grows_exponentially_with_jitter_and_is_capped()
    {
        var retry = new RetrySettings { BaseDelay = TimeSpan.FromSeconds(1), Factor = 2, MaxDelay = TimeSpan.FromSeconds(30), Jitter = 0.5 };

        Assert.Equal(TimeSpan.FromSeconds(1), retry.DelayFor(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(2), retry.DelayFor(2, 0));
        Assert.Equal(TimeSpan.FromSeconds(4), retry.DelayFor(3, 0));
        Assert.Equal(TimeSpan.FromSeconds(2), retry.DelayFor(3, 1));     // jitter removes up to half
        Assert.Equal(TimeSpan.FromSeconds(30), retry.DelayFor(10, 0));   // capped
        for (var attempt = 1; attempt < 5; attempt++)
        {
            // With factor 2 and jitter 0.5 the ranges never overlap: every delay is at least the previous one.
            Assert.True(retry.DelayFor(attempt + 1, 0.999) >= retry.DelayFor(attempt, 0));
        }
    }

    [Fact]
    public async Task Two_503s_then_200_succeeds_on_the_third_attempt_with_growing_delays()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var arrivals = new ConcurrentQueue<long>();
        var calls = 0;
        upstream.Map("/flaky", ctx =>
        {
            arrivals.Enqueue(Stopwatch.GetTimestamp());
            return Interlocked.Increment(ref calls) <= 2
                ? TestUpstream.Write(ctx, 503, null)
                : TestUpstream.Write(ctx, 200, "{\"ok\":true}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/flaky"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, response.Attempts);
        var t = arrivals.ToArray();
        var first = Stopwatch.GetElapsedTime(t[0], t[1]);
        var second = Stopwatch.GetElapsedTime(t[1], t[2]);
        Assert.True(first >= TimeSpan.FromMilliseconds(50), $"first delay {first}");
        Assert.True(second >= TimeSpan.FromMilliseconds(100), $"second delay {second}");
        Assert.True(second >= first * 0.9, $"delays {first} then {second}");
    }

    [Fact]
    public async Task A_400_is_not_retried()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/bad", 400, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1)));

        var error = await Assert.ThrowsAsync<ValidationException>(() => net.Client.SendAsync(NetRequest.Get("api", "/bad")));

        Assert.Equal(1, upstream.Count("/bad"));
        Assert.Equal(1, error.Attempts);
    }

    [Fact]
    public async Task Retry_after_2_is_honoured()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var arrivals = new ConcurrentQueue<long>();
        var calls = 0;
        upstream.Map("/limited", ctx =>
        {
            arrivals.Enqueue(Stopwatch.GetTimestamp());
            if (Interlocked.Increment(ref calls) == 1)
            {
                ctx.Response.Headers.RetryAfter = "2";
                return TestUpstream.Write(ctx, 429, null);
            }

            return TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1)));

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/limited"));

        Assert.Equal(2, response.Attempts);
        var t = arrivals.ToArray();
        Assert.True(Stopwatch.GetElapsedTime(t[0], t[1]) >= TimeSpan.FromSeconds(1.95));
    }

    [Fact]
    public async Task Retries_stop_when_attempts_run_out_and_the_error_carries_the_count()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/down", 503, null);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        var error = await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Get("api", "/down")));

        Assert.Equal(3, error.Attempts);
        Assert.Equal(3, upstream.Count("/down"));
    }

    [Fact]
    public async Task A_post_without_a_key_whose_response_times_out_reaches_the_upstream_exactly_once()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/orders", ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted));
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithResponseTimeout(TimeSpan.FromMilliseconds(200)).WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { item = 1 }))));

        Assert.Equal(TimeoutKind.Attempt, error.Kind);
        Assert.Equal(1, upstream.Count("/orders"));
    }

    [Fact]
    public async Task A_post_with_a_key_is_retried_on_503_and_every_attempt_carries_the_same_key()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var orders = 0;
        var generatedCalls = 0;
        upstream.Map("/orders", ctx => Interlocked.Increment(ref orders) <= 2 ? TestUpstream.Write(ctx, 503, null) : TestUpstream.Write(ctx, 201, "{}"));
        upstream.Map("/generated", ctx => Interlocked.Increment(ref generatedCalls) <= 2 ? TestUpstream.Write(ctx, 503, null) : TestUpstream.Write(ctx, 201, "{}"));
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)).WithIdempotencyKeys());

        var explicitKey = await net.Client.SendAsync(
            NetRequest.Post("api", "/orders", NetContent.Json(new { item = 1 })).WithIdempotencyKey("order-42"));
        var generated = await net.Client.SendAsync(NetRequest.Post("api", "/generated", NetContent.Json(new { item = 2 })));

        Assert.Equal(3, explicitKey.Attempts);
        Assert.All(upstream.Seen.Where(s => s.Path == "/orders"), s => Assert.Equal("order-42", s.Headers["Idempotency-Key"]));
        var keys = upstream.Seen.Where(s => s.Path == "/generated").Select(s => s.Headers["Idempotency-Key"]).ToList();
        Assert.Equal(3, keys.Count);
        Assert.Single(keys.Distinct());
        Assert.All(upstream.Seen.Where(s => s.Path == "/generated"), s => Assert.Equal("{\"item\":2}", System.Text.Encoding.UTF8.GetString(s.Body)));
    }

    [Fact]
    public async Task A_post_without_a_key_is_not_retried_on_503()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders", 503, null);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { item = 1 }))));

        Assert.Equal(1, upstream.Count("/orders"));
    }

    [Fact]
    public async Task A_replaced_classifier_decides_what_is_transient()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        upstream.Map("/conflict", ctx => Interlocked.Increment(ref calls) == 1 ? TestUpstream.Write(ctx, 409, null) : TestUpstream.Write(ctx, 200, "{}"));
        upstream.Respond("/down", 503, null);
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50))
            .WithRetryClassifier(e => e is ConflictException));

        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/conflict"));
        await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Get("api", "/down")));

        Assert.Equal(2, ok.Attempts);
        Assert.Equal(1, upstream.Count("/down"));
    }

    [Fact]
    public async Task A_request_waiting_for_its_retry_holds_no_connection_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        // A 503 without Retry-After: only the request that got it waits (the origin is not paused).
        upstream.Map("/once-503", ctx => TestUpstream.Write(ctx, Interlocked.Increment(ref calls) == 1 ? 503 : 200, "{}"));
        upstream.Respond("/other", 200, "{}");
        // One slot, and a retry delay of exactly 3 s (no jitter): long enough that a request needing the slot
        // is served well inside it, unless the request waiting for its retry still holds the slot.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(1)
            .WithRetryDelays(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3))
            .Set("retry.jitter", "0"));

        var retrying = net.Client.SendAsync(NetRequest.Get("api", "/once-503"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/once-503")));
        var other = await net.Client.SendAsync(NetRequest.Get("api", "/other"));

        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.False(retrying.IsCompleted, "the other request must get the single slot while the first waits for its retry");
        Assert.Equal(1, upstream.Count("/once-503"));
        Assert.Equal(2, (await retrying).Attempts);
        Assert.Equal(["/once-503", "/other", "/once-503"], upstream.Seen.OrderBy(r => r.Order).Select(r => r.Path));
        Assert.Equal(1, upstream.MaxConcurrent);
    }

    [Fact]
    public async Task A_retry_after_pauses_the_whole_origin_not_only_the_request_that_got_it()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        upstream.Map("/once-503", ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                ctx.Response.Headers.RetryAfter = "1";
                return TestUpstream.Write(ctx, 503, null);
            }

            return TestUpstream.Write(ctx, 200, "{}");
        });
        long? otherArrived = null;
        upstream.Map("/other", ctx =>
        {
            otherArrived = Stopwatch.GetTimestamp();
            return TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2));
        var sent = Stopwatch.GetTimestamp();

        var retrying = net.Client.SendAsync(NetRequest.Get("api", "/once-503"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/once-503")));
        // A free slot is there, but the Retry-After of the 503 pauses the origin for 1 s.
        var other = net.Client.SendAsync(NetRequest.Get("api", "/other"));

        Assert.Equal(HttpStatusCode.OK, (await other).StatusCode);
        Assert.Equal(2, (await retrying).Attempts);
        Assert.True(Stopwatch.GetElapsedTime(sent, otherArrived!.Value) >= TimeSpan.FromSeconds(0.9),
            "the Retry-After of the 503 must pause the whole origin, not only the request that got it");
    }
}
