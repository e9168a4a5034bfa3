using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using NetActors.Host.Load;
using NetActors.Host.Options;
using static NetActors.Host.Load.RunReport;

namespace NetActors.Host.Demo;

/// <summary>
/// The demo: starts the upstream and the runtime, sends the seed article's startup burst, runs the mixed workload
/// with live progress, and checks DESIGN.md's invariants against what the upstream saw.
/// </summary>
internal static class DemoRunner
{
    /// <summary>
    /// The demo's clients below netactors.hocon (which may override them): the API under the seed article's cap of
    /// 6, uploads under 2, the public origin under 4.
    /// </summary>
    public const string ClientDefaults = """
        netactors.clients {
          demo { max-connections = 6 }
          files { max-connections = 2 }
          public { max-connections = 4 }
        }
        """;

    /// <summary>Runs the demo and returns its report; progress goes to <paramref name="output"/>.</summary>
    /// <param name="options">The host's options (the demo's among them).</param>
    /// <param name="configuration">The configuration (its NetActors section overrides the HOCON file).</param>
    /// <param name="output">Where phases and progress lines go (none when null).</param>
    /// <param name="logging">Log providers (none when null).</param>
    /// <param name="stop">Ends the mixed workload early (what is in progress finishes).</param>
    public static async Task<DemoReport> RunAsync(HostRunOptions options, IConfiguration configuration, TextWriter? output,
        Action<ILoggingBuilder>? logging, CancellationToken stop)
    {
        var demo = options.Demo;
        await using var upstream = await DemoUpstream.StartAsync(
            new DemoUpstreamOptions(demo.Seed, demo.TokenLifetime, demo.FaultRate, demo.SearchPerSecond), CancellationToken.None);
        var events = new AuthEvents();
        await using var runtime = await RuntimeHost.StartAsync(options, configuration, net => net
            .AddClient(DemoClients.Api, c => c
                .WithBaseAddress(upstream.Api.BaseAddress)
                .WithBearerAuth(auth => auth
                    .WithRefreshEndpoint("/auth/refresh")
                    .WithTokenClient(DemoClients.Api)
                    .OnTokenRefreshed(e => events.Refreshed(e.Proactive))
                    .OnSessionExpired(_ => events.Ended())))
            .AddClient(DemoClients.Files, c => c.WithBaseAddress(upstream.Files.BaseAddress).WithAuthRealm(DemoClients.Api))
            .AddClient(DemoClients.Public, c => c.WithBaseAddress(upstream.Public.BaseAddress).WithCache())
            .WithHocon($"netactors.feature-flags {{ enabled = on, client = {DemoClients.Public}, path = \"/flags\", refresh-interval = 2s }}"),
            ClientDefaults, logging, CancellationToken.None);

        var ledger = new RequestLedger(runtime.Net, runtime.TotalTimeout);
        using var watch = new MetricsWatch(runtime.Metrics.Meter);
        var names = upstream.Origins.Select(o => (o.Origin, o.Name)).ToList();
        var cap = runtime.CapOf(upstream.Api.Origin) ?? 0;

        output?.WriteLine($"Demo upstream: api {upstream.Api.BaseAddress}, files {upstream.Files.BaseAddress}, public {upstream.Public.BaseAddress}");
        output?.WriteLine($"Startup burst: {demo.BurstRequests} requests at once, the access token already expired upstream, cap {cap} ...");
        var burst = await BurstAsync(ledger, upstream, demo.BurstRequests, cap);
        output?.WriteLine($"  {burst.Refreshes} refresh, {burst.Unauthorized} saw 401, {burst.Succeeded} ok, " +
                          $"{burst.Requests - burst.Succeeded} failed, upstream max {burst.UpstreamMax} at once, {Ms(burst.Elapsed)}");

        output?.WriteLine($"Mixed workload: {demo.Duration.TotalSeconds:0.#} s at {demo.Rate:0.#} operations/s (at most {demo.Concurrency} at once), " +
                          $"faults on, access tokens live {demo.TokenLifetime.TotalSeconds:0.#} s ...");
        upstream.Chaos.Enabled = true;
        var steps = new DemoSteps(ledger, upstream.Public.BaseAddress, runtime.Flags);
        var drain = runtime.Settings.Clients.Values.Max(c => c.TotalTimeout) + RequestLedger.Grace;
        LoadResult load;
        await using (new LiveProgress(watch, output, options.ProgressInterval, names, () => [("cache hits", steps.CacheHits)]))
        {
            load = await LoadDriver.RunAsync(steps.All, new LoadPlan(demo.Duration, demo.Rate, demo.Concurrency, demo.Seed), drain, stop);
        }

        upstream.Chaos.Enabled = false;
        var (metrics, flagFetches) = await SettledAsync(watch, () => ledger.Finished + upstream.Tokens.Refreshes.Count, () => upstream.FlagFetches);
        var ledgerSummary = LedgerSummary.Of(ledger);
        var origins = upstream.Origins.Select(o => new OriginReport(o.Name, o.Origin, runtime.CapOf(o.Origin), o.Requests,
            o.MaxConcurrent, metrics.Origins.GetValueOrDefault(o.Origin)?.MaxInFlight ?? 0)).ToList();
        var auth = new AuthResult(upstream.Tokens.Refreshes, events.Proactive, events.Reactive, upstream.Tokens.Reused,
            upstream.Tokens.Rejected, events.SessionsEnded, upstream.Unauthorized);
        var checks = Check(burst, auth, ledgerSummary, load, origins, upstream, steps, drain - RequestLedger.Grace);
        return new DemoReport
        {
            Options = demo,
            Burst = burst,
            Load = load,
            Ledger = ledgerSummary,
            Metrics = metrics,
            Origins = origins,
            Auth = auth,
            Steps = steps,
            Upstream = (upstream.RateLimited, upstream.Orders, upstream.Uploads, upstream.Chaos.Injected, flagFetches),
            Checks = checks,
        };
    }

    /// <summary>
    /// The meter's figures once every request the upstream and the ledger know of has its outcome on the meter.
    /// A caller may get a 2xx a moment before its host actor records it, and the runtime fetches flags on its
    /// own; a count that never settles (within 5 s) is returned as it is, and the invariant check names it.
    /// </summary>
    private static async Task<(MetricsSnapshot Metrics, int FlagFetches)> SettledAsync(MetricsWatch watch, Func<long> sent,
        Func<int> flagFetches)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 5;
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (true)
        {
            var flags = flagFetches();
            var snapshot = watch.Snapshot();
            if ((snapshot.Requests == sent() + flags && flags == flagFetches()) || Stopwatch.GetTimestamp() >= deadline ||
                !await poll.WaitForNextTickAsync())
            {
                return (snapshot, flags);
            }
        }
    }

    /// <summary>The seed article's burst: every request at once, with an access token the upstream has expired.</summary>
    private static async Task<BurstResult> BurstAsync(RequestLedger net, DemoUpstream upstream, int requests, int cap)
    {
        await net.Net.SignInAsync(DemoClients.Api, upstream.Tokens.StartSession());
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, requests)
            .Select(i => net.SendAsync(NetRequest.Get(DemoClients.Api, $"api/items/{i}")))
            .ToList();
        var ok = 0;
        var failures = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var task in tasks)
        {
            try
            {
                await task;
                ok++;
            }
            catch (Exception e)
            {
                var kind = RequestLedger.KindOf(e);
                failures[kind] = failures.GetValueOrDefault(kind) + 1;
            }
        }

        // Refresh calls for the startup session's refresh token: a second one would be the storm.
        return new BurstResult(requests, ok, failures, upstream.Tokens.CallsFor(0), upstream.Unauthorized,
            upstream.Api.MaxConcurrent, cap, clock.Elapsed);
    }

    private static List<InvariantCheck> Check(BurstResult burst, AuthResult auth, LedgerSummary ledger, LoadResult load,
        IReadOnlyList<OriginReport> origins, DemoUpstream upstream, DemoSteps steps, TimeSpan totalTimeout)
    {
        var replaced = auth.Refreshes.Where(r => r.ReplacedGeneration >= 1).ToList();
        var earliest = replaced.Count == 0 ? (double?)null : replaced.Min(r => r.Age / r.Lifetime);
        var authFailures = ledger.Failures.Where(f => f.Key is "UnauthorizedException" or "SessionExpiredException").Sum(f => f.Value);
        return
        [
            new("startup burst: one refresh",
                burst.Refreshes == 1 && burst.WithoutOutcome == 0,
                $"{burst.Refreshes} refresh call for {burst.Requests} concurrent requests with an expired token ({burst.Unauthorized} saw 401)"),
            new("one refresh per token expiry",
                auth.Reused == 0 && auth.Rejected == 0 && auth.SessionsEnded == 0 && replaced.All(r => r.Age >= r.Lifetime / 2),
                $"{auth.Refreshes.Count} refreshes, each replacing a different access token; {auth.Reused} refresh tokens presented twice, " +
                $"{auth.Rejected} refreshes rejected, {auth.SessionsEnded} sessions ended; " +
                (earliest is { } e ? $"the earliest replacement at {e:P0} of a token's lifetime" : "no token lived to be replaced")),
            new("no request failed on auth",
                authFailures == 0,
                $"{authFailures} requests failed with UnauthorizedException or SessionExpiredException; the upstream sent {auth.Unauthorized} 401s in all"),
            EveryRequestAnOutcome(ledger, load, totalTimeout),
            new("upstream-observed concurrency within the cap",
                origins.All(o => o.Cap is { } cap && o.UpstreamMax <= cap),
                string.Join(", ", origins.Select(o => $"{o.Name} at most {o.UpstreamMax} at once (cap {o.Cap})"))),
            ClientCap(origins),
            new("bearer token only to its realm's origins",
                upstream.LeakedTokens == 0,
                $"{upstream.LeakedTokens} of {upstream.Public.Requests} requests to the public origin carried a token " +
                $"({steps.RedirectsFollowed} of them came through a redirect from the API)"),
            new("POST without idempotency key sent at most once",
                upstream.DuplicateOrders == 0,
                $"{upstream.Orders} orders received, {upstream.DuplicateOrders} order ids twice"),
            new("data intact",
                steps.Problems.Count == 0,
                steps.Problems.Count == 0
                    ? $"{steps.UploadsVerified} uploads with matching SHA-256, {steps.Paging.Listings} listings with every message once and in order"
                    : string.Join(" ", steps.Problems.Take(3)) + (steps.Problems.Count > 3 ? $" (+{steps.Problems.Count - 3} more)" : string.Empty)),
        ];
    }

    /// <summary>Counts the runtime's auth events.</summary>
    private sealed class AuthEvents
    {
        private int _proactive;
        private int _reactive;
        private int _ended;

        public int Proactive => Volatile.Read(ref _proactive);

        public int Reactive => Volatile.Read(ref _reactive);

        public int SessionsEnded => Volatile.Read(ref _ended);

        public void Refreshed(bool proactive) => Interlocked.Increment(ref proactive ? ref _proactive : ref _reactive);

        public void Ended() => Interlocked.Increment(ref _ended);
    }
}
