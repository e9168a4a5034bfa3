using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NetActors.Auth;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Telemetry;

namespace NetActors.Tests.Cluster;

/// <summary>Three members, one realm: its TokenActor is a cluster singleton, every member sends through it.</summary>
public sealed class ClusterAuthTests
{
    [Fact]
    public async Task A_burst_with_an_expired_token_on_three_members_at_once_causes_exactly_one_refresh_in_the_cluster()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var cluster = await TestCluster.StartAsync(3, net => Api(net, upstream));
        var refreshed = cluster.Members.Select(m => Events.Collect<TokenRefreshed>(m.System)).ToList();
        // Signed in on a member that does not hold the singleton; the token is expired and nobody knows it.
        await cluster[1].Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: false));

        var responses = await Task.WhenAll(Burst(cluster.Members, 40, "/api/item"));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.InRange(tokens.Unauthorized, 1, 3 * 6);   // at most what the three members had on the wire
        // Every member hears of the refresh once, on its own event stream.
        await Eventually.Assert(() => Assert.All(refreshed, events => Assert.Single(events)));
    }

    [Fact]
    public async Task With_idle_refresh_after_set_a_realm_used_only_on_another_member_keeps_its_singleton_refreshing_ahead_of_expiry()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Lifetime = TimeSpan.FromSeconds(1.5) }.Install(upstream);
        var logs = new LogCapture();
        await using var cluster = await TestCluster.StartAsync(2,
            net => Api(net, upstream, realm: r => r.WithIdleRefreshAfter(TimeSpan.FromSeconds(1))), logs: logs);
        await cluster[1].Client.SignInAsync("api", tokens.SignIn(expired: false, tellExpiry: true));

        // Only the member without the singleton (the oldest member has it) sends: a request every 100 ms for 4 s
        // (pacing the load, not synchronising anything). Its use must reach the singleton, or the singleton, seeing
        // no request of its own member, would pause its proactive refresh.
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var until = DateTime.UtcNow.AddSeconds(4);
        while (DateTime.UtcNow < until && await pace.WaitForNextTickAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await cluster[1].Client.SendAsync(NetRequest.Get("api", "/api/tick"))).StatusCode);
        }

        Assert.True(tokens.RefreshCalls >= 2, $"{tokens.RefreshCalls} refreshes");
        Assert.DoesNotContain("proactive refresh pauses", logs.All);
        Assert.Equal(0, tokens.Unauthorized);
    }

    [Fact]
    public async Task While_the_token_endpoint_is_down_a_member_that_did_not_refresh_fails_its_requests_with_TokenUnavailable_not_a_timeout()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.RefreshOverride = ctx =>
        {
            ctx.Response.StatusCode = 503;
            return Task.FromResult(true);
        };
        await using var cluster = await TestCluster.StartAsync(3, net => Api(net, upstream,
            realm: r => r.WithRefreshBackoff(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4))));
        await cluster[1].Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: true));

        // Every member hears from the realm's singleton, wherever it runs, that the endpoint fails and when it tries
        // again: a request whose budget cannot cover that retry fails with the cause, well before its own timeout.
        foreach (var member in cluster.Members)
        {
            var error = await Assert.ThrowsAsync<NetActors.Errors.TokenUnavailableException>(() =>
                member.Client.SendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(2))));
            Assert.Contains("503", error.LastCause);
        }

        Assert.Equal(0, upstream.Count("/api/x"));
    }

    [Fact]
    public async Task Rotating_refresh_tokens_under_bursts_on_all_members_never_end_the_session()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true }.Install(upstream);   // a used refresh token is invalid_grant
        await using var cluster = await TestCluster.StartAsync(3, net => Api(net, upstream));
        var ended = cluster.Members.Select(m => Events.Collect<SessionExpired>(m.System)).ToList();
        await cluster[2].Client.SignInAsync("api", tokens.SignIn());

        const int Rounds = 5;
        for (var round = 1; round <= Rounds; round++)
        {
            tokens.ExpireNow();   // the server drops the access token: every member's next requests get 401
            var responses = await Task.WhenAll(Burst(cluster.Members, 20, $"/api/round{round}"));
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            // One refresh per expiry for the whole fleet: two would present the same refresh token and end the session.
            Assert.Equal(round, tokens.RefreshCalls);
        }

        Assert.All(ended, Assert.Empty);
    }

    [Fact]
    public async Task A_member_asks_the_realms_singleton_only_when_its_token_is_missing_or_rejected()
    {
        await using var api = await TestUpstream.StartAsync();
        await using var files = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(api);
        files.Map("/files/*", ctx => tokens.Check(ctx) ? TestUpstream.Write(ctx, 200, "{}") : TestUpstream.Write(ctx, 401, null));
        await using var cluster = await TestCluster.StartAsync(3, net =>
        {
            Api(net, api);
            net.AddClient("files", c => c.WithBaseAddress(files.BaseAddress).WithAuthRealm("api"));
        });
        using var asks = new TokenRequestCounts(cluster.Members);
        await cluster[0].Client.SignInAsync("api", tokens.SignIn());

        // First use: a member that was not yet subscribed when the session started asks once; the others got
        // the token pushed with the sign-in.
        await Task.WhenAll(cluster.Members.Select(m => m.Client.SendAsync(NetRequest.Get("api", "/api/first"))));
        Assert.All(asks.PerMember, count => Assert.InRange(count, 0, 1));
        var afterFirstUse = asks.Total;

        // Steady state: 50 requests per member on each of two origins (a new host actor per origin) cross no
        // member boundary for their token: each member's realm client and host actors answer them locally.
        var steady = await Task.WhenAll(
            Burst(cluster.Members, 50, "/api/steady").Concat(Burst(cluster.Members, 50, "/files/steady", client: "files")));
        Assert.All(steady, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(afterFirstUse, asks.Total);

        // Rejected: each member asks at most once for the whole burst, and the fleet refreshes once.
        var before = asks.PerMember;
        tokens.ExpireNow();
        var rejected = await Task.WhenAll(Burst(cluster.Members, 50, "/api/rejected"));
        Assert.All(rejected, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.All(asks.PerMember.Zip(before), pair => Assert.InRange(pair.First - pair.Second, 0, 1));
    }

    [Fact]
    public async Task Every_member_sees_the_end_of_the_session_once_and_recovers_with_the_next_sign_in()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var callbacks = new ConcurrentQueue<SessionExpired>();
        await using var cluster = await TestCluster.StartAsync(3,
            net => Api(net, upstream, realm => realm.OnSessionExpired(callbacks.Enqueue)),
            services => services.AddHealthChecks().AddNetActors());
        var ended = cluster.Members.Select(m => Events.Collect<SessionExpired>(m.System)).ToList();
        await cluster[0].Client.SignInAsync("api", tokens.SignIn());
        await Task.WhenAll(Burst(cluster.Members, 5, "/api/before"));

        // The server rejects the refresh token: the session ends for the whole fleet.
        tokens.RefreshOverride = async ctx =>
        {
            await TestUpstream.Write(ctx, 400, "{\"error\":\"invalid_grant\"}");
            return true;
        };
        tokens.ExpireNow();
        await Assert.ThrowsAsync<SessionExpiredException>(() => cluster[2].Client.SendAsync(NetRequest.Get("api", "/api/after")));

        // Once per member: its event stream, its own callback, its health, and its requests fail fast.
        await Eventually.Assert(() =>
        {
            Assert.All(ended, events => Assert.Single(events));
            Assert.Equal(3, callbacks.Count);
        });
        foreach (var member in cluster.Members)
        {
            await Eventually.Assert(() => Assert.Equal(HealthStatus.Unhealthy, Health(member)));
            await Assert.ThrowsAsync<SessionExpiredException>(() => member.Client.SendAsync(NetRequest.Get("api", "/api/fast")));
        }

        Assert.Equal(1, tokens.RefreshCalls);

        // A new sign-in on any member brings them all back.
        tokens.RefreshOverride = null;
        await cluster[1].Client.SignInAsync("api", tokens.SignIn());
        foreach (var member in cluster.Members)
        {
            await Eventually.Assert(() => Assert.Equal(HealthStatus.Healthy, Health(member)));
            Assert.Equal(HttpStatusCode.OK, (await member.Client.SendAsync(NetRequest.Get("api", "/api/again"))).StatusCode);
        }

        Assert.All(ended, events => Assert.Single(events));
    }

    [Fact]
    public async Task A_sign_in_on_one_member_clears_every_members_cached_responses_of_the_last_session()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/me", ctx =>
        {
            ctx.Response.Headers.CacheControl = "private, max-age=300";
            return TestUpstream.Write(ctx, 200, ctx.Request.Headers.Authorization.ToString());
        });
        await using var cluster = await TestCluster.StartAsync(3, net => Api(net, upstream, client: c => c.WithCache()));
        var later = DateTimeOffset.UtcNow.AddHours(1);
        await cluster[0].Client.SignInAsync("api", new TokenSet("alice-token", "alice-refresh", later));
        foreach (var member in cluster.Members)
        {
            // Each member learns of the session by push; once it has, its answer is Alice's and then cached.
            await Eventually.AssertAsync(async () => Assert.Equal("Bearer alice-token",
                (await member.Client.SendAsync(NetRequest.Get("api", "/me"))).ReadAsString()));
            await Eventually.AssertAsync(async () => Assert.True(
                (await member.Client.SendAsync(NetRequest.Get("api", "/me"))).FromCache));
        }

        await cluster[1].Client.SignInAsync("api", new TokenSet("bob-token", "bob-refresh", later));

        var here = await cluster[1].Client.SendAsync(NetRequest.Get("api", "/me"));
        Assert.Equal("Bearer bob-token", here.ReadAsString());
        foreach (var member in cluster.Members)
        {
            await Eventually.AssertAsync(async () => Assert.Equal("Bearer bob-token",
                (await member.Client.SendAsync(NetRequest.Get("api", "/me"))).ReadAsString()));
        }
    }

    internal static void Api(NetActorsBuilder net, TestUpstream upstream, Action<AuthRealmBuilder>? realm = null,
        Action<ClientBuilder>? client = null) =>
        net.AddClient("api", c =>
        {
            c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(6).WithQueueCapacity(5000)
                .WithBearerAuth(a =>
                {
                    a.WithRefreshEndpoint("/auth/refresh");
                    realm?.Invoke(a);
                });
            client?.Invoke(c);
        });

    /// <summary><paramref name="perMember"/> concurrent GETs from each member, all started before any is awaited.</summary>
    internal static List<Task<NetResponse>> Burst(IEnumerable<NetHost> members, int perMember, string path, string client = "api") =>
        members.SelectMany((member, m) => Enumerable.Range(0, perMember)
            .Select(i => member.Client.SendAsync(NetRequest.Get(client, $"{path}/{m}-{i}")))).ToList();

    private static HealthStatus Health(NetHost member) =>
        member.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().GetAwaiter().GetResult().Status;

    /// <summary>Counts the token requests each member sends to the realm's singleton (on each member's own meter).</summary>
    private sealed class TokenRequestCounts : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly long[] _counts;

        public TokenRequestCounts(IReadOnlyList<NetHost> members)
        {
            var meters = members.Select(m => m.Services.GetRequiredService<NetMetrics>().Meter).ToList();
            _counts = new long[meters.Count];
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (meters.Contains(instrument.Meter) && instrument.Name == "netactors.cluster.token_requests")
                {
                    l.EnableMeasurementEvents(instrument, meters.IndexOf(instrument.Meter));
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, member) => Interlocked.Add(ref _counts[(int)member!], value));
            _listener.Start();
        }

        public IReadOnlyList<long> PerMember => Enumerable.Range(0, _counts.Length).Select(i => Interlocked.Read(ref _counts[i])).ToList();

        public long Total => PerMember.Sum();

        public void Dispose() => _listener.Dispose();
    }
}
