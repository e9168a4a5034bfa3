using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Tests.Auth;

/// <summary>
/// A token endpoint that is down (5xx) against a real Kestrel server: waiting requests get
/// <see cref="TokenUnavailableException"/> with the cause as soon as their budget cannot cover the next retry, the
/// realm reports Degraded, and once the endpoint is back the next request gets a token within a second.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class TokenEndpointOutageTests
{
    private static TokenServer Down(TestUpstream upstream, Func<bool> down)
    {
        var tokens = new TokenServer().Install(upstream);
        tokens.RefreshOverride = ctx =>
        {
            if (!down())
            {
                return Task.FromResult(false);
            }

            ctx.Response.StatusCode = 503;
            return Task.FromResult(true);
        };
        return tokens;
    }

    [Fact]
    public async Task A_request_whose_budget_cannot_cover_the_next_retry_fails_at_once_with_TokenUnavailable_and_the_cause()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = Down(upstream, () => true);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithRefreshBackoff(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4)));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TokenUnavailableException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(1.2))));

        // The first attempt failed and the next is 1.5 s or more away: the request does not sit out its 1.2 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(0.9), $"failed after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal("api", error.Realm);
        Assert.Contains("503", error.LastCause);
        Assert.NotNull(error.RetryAt);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal(0, upstream.Count("/api/x"));
    }

    [Fact]
    public async Task While_the_token_endpoint_is_down_the_realm_is_degraded_and_healthy_again_after_it_recovers()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var down = true;
        var tokens = Down(upstream, () => Volatile.Read(ref down));
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);
        var check = new NetActorsHealthCheck(net.Services.GetRequiredService<NetMetrics>(), net.Services.GetRequiredService<SessionStates>());

        await Assert.ThrowsAsync<TokenUnavailableException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromMilliseconds(300))));
        var during = await check.CheckHealthAsync(new HealthCheckContext(), CancellationToken.None);
        Volatile.Write(ref down, false);
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/api/y"));
        var after = await check.CheckHealthAsync(new HealthCheckContext(), CancellationToken.None);

        Assert.Equal(HealthStatus.Degraded, during.Status);
        Assert.Contains("api", during.Description);
        Assert.Contains("503", (string)during.Data["realm:api"]);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HealthStatus.Healthy, after.Status);
    }

    [Fact]
    public async Task After_a_three_second_outage_the_next_request_gets_a_token_within_a_second()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var down = true;
        var tokens = Down(upstream, () => Volatile.Read(ref down));
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);

        // A request during the outage, with the default 15 s total timeout and default backoff (200 ms doubling,
        // capped at 4 s): it waits for the token while the attempts fail.
        var waiting = net.Client.SendAsync(NetRequest.Get("api", "/api/during"));
        // Five failed attempts take about 3 s (0.2 + 0.4 + 0.8 + 1.6 s of backoff, less with jitter); the next
        // scheduled retry is then seconds away.
        await Eventually.Assert(() => Assert.True(tokens.RefreshCalls >= 5, $"{tokens.RefreshCalls} attempts"),
            TimeSpan.FromSeconds(10));
        Volatile.Write(ref down, false);

        var clock = Stopwatch.StartNew();
        var next = await net.Client.SendAsync(NetRequest.Get("api", "/api/after"));
        var recovery = clock.Elapsed;
        var earlier = await waiting;

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.True(recovery < TimeSpan.FromSeconds(1), $"the first request after the outage took {recovery.TotalMilliseconds:0} ms");
        Assert.Equal(HttpStatusCode.OK, earlier.StatusCode); // the one that waited through the outage is served too
        Assert.Equal(0, tokens.Unauthorized);
    }

    [Fact]
    public async Task The_refresh_backoff_is_capped_at_max_backoff()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = Down(upstream, () => true);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true,
            realm: r => r.WithRefreshBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200))
                .WithRetryOnDemandAfter(TimeSpan.FromMinutes(1)));   // only the schedule retries here
        var clock = Stopwatch.StartNew();
        var waiting = Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(10))));

        // Capped at 200 ms (100-200 ms with jitter), 8 attempts take at most about 1.5 s; doubling without a cap
        // (0.1, 0.2, 0.4, 0.8, 1.6 s ...) would need more than 6 s.
        await Eventually.Assert(() => Assert.True(tokens.RefreshCalls >= 8, $"{tokens.RefreshCalls} attempts"), TimeSpan.FromSeconds(10));
        var elapsed = clock.Elapsed;

        Assert.True(elapsed < TimeSpan.FromSeconds(4), $"8 attempts took {elapsed.TotalMilliseconds:0} ms");
        await net.Client.TerminateSessionAsync("api");
        Assert.IsType<SessionExpiredException>((await waiting).Error);
    }

    [Fact]
    public async Task During_an_outage_with_steady_traffic_the_token_endpoint_sees_a_bounded_number_of_attempts()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = Down(upstream, () => true);
        await using var net = await AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: true);

        // 20 requests a second for 2 s, each allowed 250 ms (pacing the load, not synchronising anything).
        var outcomes = new List<Task<(NetResponse?, Exception?)>>();
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var until = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < until && await pace.WaitForNextTickAsync())
        {
            outcomes.Add(Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromMilliseconds(250)))));
        }

        var results = await Task.WhenAll(outcomes);

        Assert.All(results, r => Assert.IsType<TokenUnavailableException>(r.Item2));
        // On-demand retries start at most every on-demand-after (500 ms): about 5 in 2 s, never one per request.
        Assert.InRange(tokens.RefreshCalls, 2, 8);
    }
}
