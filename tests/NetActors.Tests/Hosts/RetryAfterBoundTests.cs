using System.Diagnostics;
using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

[Collection(TimingCollection.Name)]
public sealed class RetryAfterBoundTests
{
    [Theory]
    [InlineData("315360000")]                       // ten years, in seconds
    [InlineData("2147483647")]                      // the largest 32-bit number of seconds
    [InlineData("Fri, 31 Dec 9999 23:59:59 GMT")]   // a date at the end of the calendar
    public async Task Retry_after_of_ten_years_pauses_the_origin_at_most_max_retry_after(string retryAfter)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var calls = 0;
        upstream.Map("/limited", ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                ctx.Response.Headers.RetryAfter = retryAfter;
                return TestUpstream.Write(ctx, 429, null);
            }

            return TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/other", 200, "{}");
        // A pause is capped at 1 s; both requests have 15 s, so only an uncapped pause makes them time out.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .Set("max-retry-after", "1s")
            .WithResponseTimeout(TimeSpan.FromSeconds(5))
            .WithTotalTimeout(TimeSpan.FromSeconds(15)));
        var started = Stopwatch.GetTimestamp();

        var limited = net.Client.SendAsync(NetRequest.Get("api", "/limited"));
        await Eventually.Assert(() => Assert.Equal(1, upstream.Count("/limited")));
        var other = net.Client.SendAsync(NetRequest.Get("api", "/other"));

        Assert.Equal(HttpStatusCode.OK, (await other).StatusCode);
        var retried = await limited;
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(2, retried.Attempts);
        // The origin was paused (by the capped amount), not ignored: the retry came after the cap.
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.9));
    }

    [Fact]
    public async Task A_request_whose_budget_ends_before_the_pause_does_is_answered_at_once_with_the_retry_time()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/limited", ctx =>
        {
            ctx.Response.Headers.RetryAfter = "120";
            return TestUpstream.Write(ctx, 429, null);
        });
        upstream.Respond("/other", 200, "{}");
        // Two minutes is under the default max-retry-after (5 minutes), so the origin pauses two minutes; each
        // request has 5 s.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithResponseTimeout(TimeSpan.FromSeconds(2))
            .WithTotalTimeout(TimeSpan.FromSeconds(5)));

        var limited = await Assert.ThrowsAsync<RateLimitedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/limited")));
        var started = Stopwatch.GetTimestamp();
        var paused = await Assert.ThrowsAsync<RateLimitedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/other")));

        Assert.Equal(TimeSpan.FromSeconds(120), limited.RetryAfter);
        // The request sent during the pause was never put on the wire and was not left to run out its 5 s.
        Assert.InRange(paused.RetryAfter!.Value, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(120));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(4), "answered at once, not at the end of its budget");
        Assert.Equal(0, upstream.Count("/other"));
        Assert.Equal(1, upstream.Count("/limited"));
    }
}
