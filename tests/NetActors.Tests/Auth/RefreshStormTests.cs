using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Auth;

public sealed class RefreshStormTests
{
    [Theory]
    [InlineData(true)]   // the client knows the token expired: it refreshes before sending
    [InlineData(false)]  // it does not know: every request of the burst gets 401 at once
    public async Task Startup_burst_of_10_with_expired_token_under_cap_6_causes_exactly_one_refresh(bool expiryKnown)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: expiryKnown);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/item/{i}"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.InRange(upstream.MaxConcurrent, 1, 6);
        if (expiryKnown)
        {
            Assert.Equal(0, tokens.Unauthorized);
        }
    }

    [Theory]
    [InlineData(6)]
    [InlineData(1)]   // the token endpoint shares the single slot: the refresh jumps the queue and the burst completes
    public async Task A_thousand_concurrent_requests_with_a_rejected_token_cause_exactly_one_refresh(int cap)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false, maxConnections: cap);

        var responses = await Task.WhenAll(Enumerable.Range(0, 1000)
            .Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/item/{i}"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.InRange(upstream.MaxConcurrent, 1, cap);
        Assert.InRange(tokens.Unauthorized, 1, cap);   // only the requests already on the wire saw the old token
    }

    [Fact]
    public async Task A_slow_refresh_while_requests_keep_arriving_is_still_one_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        var tokens = new TokenServer { BeforeRefresh = gate.PassAsync }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false);

        var first = Enumerable.Range(0, 20).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/a/{i}"))).ToList();
        await gate.WaitForArrivalsAsync(1);
        var second = Enumerable.Range(0, 50).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/b/{i}"))).ToList();
        var third = Enumerable.Range(0, 50).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/c/{i}"))).ToList();
        Assert.All(first.Concat(second).Concat(third), t => Assert.False(t.IsCompleted));
        gate.Open();

        var all = await Task.WhenAll(first.Concat(second).Concat(third));
        Assert.All(all, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task A_401_for_an_old_token_version_after_the_refresh_causes_no_second_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var slowGate = new Gate();
        upstream.Map("/api/slow", async ctx =>
        {
            // Hold the request that carries the old token until a refresh has happened, then judge it.
            await slowGate.PassAsync(ctx);
            if (!tokens.Check(ctx))
            {
                ctx.Response.StatusCode = 401;
                return;
            }

            await TestUpstream.Write(ctx, 200, "{}");
        });
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: false);

        var slow = net.Client.SendAsync(NetRequest.Get("api", "/api/slow"));
        await slowGate.WaitForArrivalsAsync(1);
        tokens.ExpireNow();
        await net.Client.SendAsync(NetRequest.Get("api", "/api/fast"));   // 401 → refresh → version 2
        Assert.Equal(1, tokens.RefreshCalls);

        slowGate.Open();   // the old request now gets 401 for version 1
        var response = await slow;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, tokens.RefreshCalls);
    }

    [Fact]
    public async Task A_request_that_gets_401_again_after_a_fresh_token_fails_with_unauthorized()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        upstream.Map("/api/never", ctx =>
        {
            ctx.Response.StatusCode = 401;
            return Task.CompletedTask;
        });
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: false);

        var error = await Assert.ThrowsAsync<UnauthorizedException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/never")));

        Assert.Equal(2, upstream.Count("/api/never"));   // the original and one retry with the new token: no loop
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal(2, error.Attempts);
    }

    [Fact]
    public async Task Rotating_refresh_tokens_under_repeated_bursts_never_end_the_session()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true, SendExpiresIn = false }.Install(upstream);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: false);

        for (var round = 0; round < 5; round++)
        {
            tokens.ExpireNow();
            var burst = await Task.WhenAll(Enumerable.Range(0, 100)
                .Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/r{round}/{i}"))));
            Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            Assert.Equal(round + 1, tokens.RefreshCalls);
        }
    }
}
