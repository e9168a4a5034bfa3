using System.Collections.Concurrent;
using Akka.Event;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Resilience;

public sealed class ChaosTests
{
    [Fact]
    public async Task Five_thousand_mixed_requests_against_a_faulty_upstream_each_get_exactly_one_outcome_and_no_unsafe_repeat()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var attempts = new ConcurrentDictionary<string, int>();
        upstream.Map("*", async ctx =>
        {
            var id = ctx.Request.Headers["X-Req"].ToString();
            var attempt = attempts.AddOrUpdate(id, 1, (_, n) => n + 1);
            // Deterministic faults per (request, attempt): the same run behaves the same way.
            var roll = (int)((uint)HashCode.Combine(id, attempt, 42) % 100);
            switch (roll)
            {
                case < 10:
                    ctx.Response.StatusCode = 503;
                    return;
                case < 15:
                    ctx.Response.StatusCode = 500;
                    return;
                case < 20:
                    ctx.Abort();
                    return;
                case < 25:
                    ctx.Response.Headers.RetryAfter = "0";
                    ctx.Response.StatusCode = 429;
                    return;
                case < 27:
                    // Past the response timeout: the client abandons it and frees its slot when it closes the
                    // connection, which the server may notice late. It held a client slot while it counted, so
                    // everything else must still stay within the cap.
                    TestUpstream.StopCounting(ctx);
                    await Task.Delay(TimeSpan.FromSeconds(2), ctx.RequestAborted);
                    return;
                case < 35:
                    await Task.Delay(5, ctx.RequestAborted);
                    break;
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithMaxConnections(8).WithQueueCapacity(10_000)
            .WithRetryDelays(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(50))
            .WithResponseTimeout(TimeSpan.FromMilliseconds(300)).WithTotalTimeout(TimeSpan.FromSeconds(20))
            .Set("circuit-breaker.enabled", "off"));
        var deadLetters = Events.Collect<AllDeadLetters>(net.System);

        var kinds = new Dictionary<string, string>();
        var tasks = new List<Task<(NetResponse? Response, Exception? Error)>>();
        for (var i = 0; i < 5000; i++)
        {
            var id = "r" + i;
            var (kind, request) = (i % 5) switch
            {
                0 or 1 => ("get", NetRequest.Get("api", $"/items/{i}")),
                2 => ("put", NetRequest.Put("api", $"/items/{i}", NetContent.Json(new { i }))),
                3 => ("post-key", NetRequest.Post("api", "/orders", NetContent.Json(new { i })).WithIdempotencyKey(id)),
                _ => ("post", NetRequest.Post("api", "/orders", NetContent.Json(new { i }))),
            };
            kinds[id] = kind;
            tasks.Add(Outcomes.Of(net.Client.SendAsync(request.WithHeader("X-Req", id))));
        }

        var outcomes = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));

        // Exactly one outcome each: every task completed within the bound above (a hang fails WaitAsync).
        Assert.Equal(5000, outcomes.Length);
        Assert.All(outcomes.Where(o => o.Error is not null), o => Assert.True(
            o.Error is ServerException or RateLimitedException or NetworkException or NetTimeoutException,
            $"unexpected {o.Error!.GetType().Name}: {o.Error.Message}"));
        Assert.All(outcomes, o => Assert.InRange(o.Response?.Attempts ?? ((NetException)o.Error!).Attempts, 1, 3));
        foreach (var (id, count) in attempts)
        {
            Assert.True(count <= (kinds[id] == "post" ? 1 : 3), $"{kinds[id]} {id} reached the upstream {count} times");
        }

        Assert.InRange(upstream.MaxConcurrent, 1, 8);
        Assert.DoesNotContain(deadLetters, letter => letter.Message is NetActors.Hosts.Exchange);
        Assert.True(outcomes.Count(o => o.Response is not null) > 4000, "retries should rescue most requests");
        Assert.True(attempts.Values.Any(n => n > 1), "the upstream should have seen retries");
    }
}
