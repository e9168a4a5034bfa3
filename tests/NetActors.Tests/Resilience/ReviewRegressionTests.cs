using System.Net;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Resilience;

/// <summary>Scenarios a code review found; each failed (or would have) before its fix.</summary>
public sealed class ReviewRegressionTests
{
    [Fact]
    public async Task A_rejected_client_credentials_grant_is_not_retried_in_a_loop()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/oauth/token", async ctx =>
        {
            ctx.Response.StatusCode = 401;
            await ctx.Response.WriteAsync("{\"error\":\"invalid_client\"}");
        });
        upstream.Respond("/api/*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthClientCredentials("/oauth/token", "svc", "wrong-secret"))));

        var waiting = Enumerable.Range(0, 10).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/{i}"))).ToList();
        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<SessionExpiredException>(() => task);
        }

        Assert.Equal(1, upstream.Count("/oauth/token"));
        Assert.Equal(0, upstream.Count("/api/0"));
    }

    [Fact]
    public async Task A_shared_call_whose_callers_all_cancelled_leaves_no_trace_for_later_identical_requests()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var calls = 0;
        upstream.Map("/me", async ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await gate.PassAsync(ctx);
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        upstream.Respond("/barrier", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream);

        using var leaderCts = new CancellationTokenSource();
        using var followerCts = new CancellationTokenSource();
        var leader = net.Client.SendAsync(NetRequest.Get("api", "/me"), leaderCts.Token);
        await gate.WaitForArrivalsAsync(1);
        var follower = net.Client.SendAsync(NetRequest.Get("api", "/me"), followerCts.Token);
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the follower is attached
        leaderCts.Cancel();
        followerCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower);
        gate.Open();
        await net.Client.SendAsync(NetRequest.Get("api", "/barrier"));   // the shared call has ended by now

        var later = await net.Client.SendAsync(NetRequest.Get("api", "/me").WithTimeout(TimeSpan.FromSeconds(5)));

        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task Hand_set_credentials_are_not_forwarded_across_a_redirect_to_another_origin()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        other.Respond("*", 200, "{}");
        upstream.Map("/jump", ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = new Uri(other.BaseAddress, "landing").ToString();
            return Task.CompletedTask;
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithHeader("X-Api-Key", "SECRET-DEFAULT"));

        await net.Client.SendAsync(NetRequest.Get("api", "/jump")
            .WithHeader("Authorization", "Basic U0VDUkVU").WithHeader("Cookie", "session=SECRET").WithHeader("X-Trace", "kept"));

        Assert.Equal("Basic U0VDUkVU", upstream.Seen.Single().Headers["Authorization"]);
        var landed = other.Seen.Single().Headers;
        Assert.False(landed.ContainsKey("Authorization"));
        Assert.False(landed.ContainsKey("Cookie"));
        Assert.False(landed.ContainsKey("X-Api-Key"));
        Assert.Equal("kept", landed["X-Trace"]);
    }
}
