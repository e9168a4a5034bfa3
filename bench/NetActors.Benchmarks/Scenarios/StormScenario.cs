using System.Diagnostics;
using NetActors.Auth;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// The 401 storm. Before each round the server expires every access token of the storm session and issues a
/// fresh refresh token; the client is signed in with an opaque access token the server does not accept and no
/// expiry, so it cannot know the token is stale. Then 1,000 GET /storm are sent at once at cap 6: each one that
/// goes out with the stale token gets 401, and exactly one refresh (POST /auth/refresh, rotating refresh tokens)
/// should let all of them through. Measured: refresh calls, 401s, time until all 1,000 are answered, failures.
/// NetActors (its <c>bench</c> client and realm) is compared with a hand-written single-flight refresh over a
/// raw HttpClient (<see cref="SingleFlightClient"/>).
/// </summary>
/// With <c>validToken</c> (<c>-- --quick --storm --valid-token</c>, a diagnostic) both clients start each round with
/// a token the server accepts: the same burst of 1,000 without a 401 or a refresh, to tell the refresh's share of
/// the drain from the burst's own.
internal sealed class StormScenario(BenchServer server, BenchSettings settings, bool validToken = false)
{
    /// <summary>The connection cap of both clients.</summary>
    public const int Cap = 6;

    /// <summary>Requests sent at once in a round.</summary>
    public const int Requests = 1_000;

    private static readonly TimeSpan RoundLimit = TimeSpan.FromSeconds(30);

    public async Task RunAsync(Report report)
    {
        Console.Error.WriteLine($"401 storm: {Requests} concurrent requests with an expired token, cap {Cap}, {settings.Rounds} rounds");
        var urls = LoadRunner.UniqueUrls("storm", Requests);
        await using var netactors = await NetActorsClient.StartAsync(server, Cap);
        await using var baseline = new SingleFlightClient(server, Cap);
        IStormClient[] clients = validToken
            ? [new ValidTokenClient(server, baseline), new ValidTokenClient(server, new NetActorsStormClient(netactors))]
            : [baseline, new NetActorsStormClient(netactors)];
        var results = clients.ToDictionary(c => c.Name, _ => new List<StormRun>());

        // Each client storms until the JIT has settled (the 401, refresh and retry paths are not compiled, then not
        // tiered up, after one storm); those storms are not reported.
        foreach (var client in clients)
        {
            var storms = await WarmUpAsync(server, client, urls);
            Console.Error.WriteLine($"  warm-up, {client.Name}: {storms} storms until the JIT settled");
        }

        for (var round = 1; round <= settings.Rounds; round++)
        {
            foreach (var client in clients)
            {
                var run = await RoundAsync(server, client, urls);
                Console.Error.WriteLine($"  round {round}, {client.Name}: " +
                                        $"{run.Refreshes} refresh(es), {run.Unauthorized} 401s, {run.DrainMs:0} ms, {run.Failures} failures" +
                                        (run.Timeline is { } timeline ? $"; {timeline}" : ""));
                results[client.Name].Add(run);
            }
        }

        var section = new Section(
            validToken
                ? $"Burst without a storm: {Requests:N0} concurrent GET /storm with a valid token, cap {Cap}"
                : $"401 storm: {Requests:N0} concurrent GET /storm with an expired token, cap {Cap}",
            "client", "refresh calls", "401s served", "server requests", "drain ms", "×baseline", "p50 ms", "max ms",
            "failures", "server max conc");
        var baselineDrain = Summary.Of(results[clients[0].Name].Select(r => r.DrainMs)).Median;
        foreach (var (name, runs) in results)
        {
            var drain = Summary.Of(runs.Select(r => r.DrainMs));
            section.Row(name,
                Summary.Of(runs.Select(r => (double)r.Refreshes)).Format(0),
                Summary.Of(runs.Select(r => (double)r.Unauthorized)).Format(0),
                Summary.Of(runs.Select(r => (double)r.ServerRequests)).Format(0),
                drain.Format(0),
                Stats.Ratio(drain.Median, baselineDrain),
                Summary.Of(runs.Select(r => r.P50Ms)).Format(1),
                Summary.Of(runs.Select(r => r.MaxMs)).Format(1),
                Summary.Of(runs.Select(r => (double)r.Failures)).Format(0),
                Stats.Number(runs.Max(r => r.ServerMaxConcurrency), 0));
            foreach (var run in runs.Where(r => r.Refreshes != 1 || r.RejectedRefreshes > 0))
            {
                section.Note($"**{name}: {run.Refreshes} refresh calls and {run.RejectedRefreshes} rejected ones in a round**");
            }

            foreach (var run in runs.Where(r => r.Failures > 0 || r.TimedOut))
            {
                section.Note($"**{name}: {run.Failures} failures{(run.TimedOut ? ", stopped at the time limit" : "")}** " +
                             $"(first: {run.FirstError})");
            }
        }

        if (validToken)
        {
            section.Note("valid token: before each round the bench redeems the session's refresh token itself (the one refresh " +
                         "counted) and starts both clients with the new access token, so no 401 and no refresh of their own: " +
                         "the drain of a burst of 1,000 at cap 6, without the storm.");
        }

        report.Add(section
            .Note($"median [min–max] over {settings.Rounds} rounds after warm-up storms until the JIT settled; ×baseline is the ratio of median " +
                  "drain times (drain: from the first request sent until all are answered). p50 and max are per request.")
            .Note("server requests: what the server received in the round, the 401s and the refresh call included. " +
                  "Every request has its own URL (?n=i), so NetActors' deduplication never applies.")
            .Note("single-flight (raw): HttpClient over SocketsHttpHandler (MaxConnectionsPerServer 6); on 401 it takes a " +
                  "SemaphoreSlim(1, 1), refreshes if the token version that failed is still current, and retries once. " +
                  "Its refresh POST waits in the handler's connection queue like any request.")
            .Note("netactors: the bench client (cap 6, the default pipeline) with bearer auth and a refresh endpoint, " +
                  "signed in with the stale token and ExpiresAt = null before each round."));
    }

    /// <summary>
    /// Storms (<see cref="RoundAsync"/>) until the JIT has settled: no method compiled during a storm and the pause after
    /// it (a tier-1 recompile counts, so a path still on tier-0 code keeps it going), at least <paramref name="min"/>
    /// and at most <paramref name="max"/> storms. One storm is not enough: its 1,000 requests run the new paths on
    /// tier-0 code, and tiering promotes them in the background after its own delay. Returns how many storms ran.
    /// </summary>
    public static async Task<int> WarmUpAsync(IUpstream server, IStormClient client, string[] urls, int min = 3, int max = 25)
    {
        for (var storms = 1; ; storms++)
        {
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await RoundAsync(server, client, urls);
            await Task.Delay(JitSettle); // tiering's background compiles of this storm's hot methods land here
            if (storms >= max || (storms >= min && System.Runtime.JitInfo.GetCompiledMethodCount() == compiled))
            {
                return storms;
            }
        }
    }

    /// <summary>Longer than tiered compilation's delay (100 ms) before it promotes the methods called since.</summary>
    internal static readonly TimeSpan JitSettle = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// One round: a new storm session on <paramref name="server"/>, the client signed in with its stale token,
    /// then every URL requested at once.
    /// </summary>
    public static async Task<StormRun> RoundAsync(IUpstream server, IStormClient client, string[] urls)
    {
        using var cts = new CancellationTokenSource(RoundLimit);
        var (staleAccessToken, refreshToken) = await server.StartStormSessionAsync();
        await client.StartSessionAsync(staleAccessToken, refreshToken, cts.Token);
        Stats.FullGc();
        await server.ResetMaxConcurrencyAsync();
        var requestsBefore = (await server.CountersAsync()).Requests;

        var latencies = new long[urls.Length];
        var failures = 0;
        string? firstError = null;
        async Task OneAsync(int i)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await client.GetAsync(urls[i], cts.Token);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref failures);
                Interlocked.CompareExchange(ref firstError, $"{e.GetType().Name}: {e.Message}", null);
            }

            latencies[i] = Stopwatch.GetTimestamp() - start;
        }

        var tasks = new Task[urls.Length];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < urls.Length; i++)
        {
            tasks[i] = OneAsync(i);
        }

        await Task.WhenAll(tasks); // each one ends by the round's time limit at the latest
        var drain = Stopwatch.GetElapsedTime(started);
        string? timeline = null;
        if (server is BenchServer inProcess)
        {
            // In process, the server's own clock: when the 401s, the refresh and the answers happened in the round.
            var (first401, last401, refreshed, first200, last200) = inProcess.Tokens.StormTimeline;
            string At(long t) => t == 0 ? "-" : $"{Stopwatch.GetElapsedTime(started, t).TotalMilliseconds:0.0}";
            timeline = $"server ms after start: 401s {At(first401)}–{At(last401)}, refresh granted {At(refreshed)}, " +
                       $"200s {At(first200)}–{At(last200)}";
        }

        Array.Sort(latencies);
        var counters = await server.CountersAsync();
        return new StormRun(
            Refreshes: UpstreamCounters.Required(counters.Refreshes, "refreshes"),
            RejectedRefreshes: UpstreamCounters.Required(counters.RejectedRefreshes, "rejected refreshes"),
            Unauthorized: UpstreamCounters.Required(counters.StormUnauthorized, "401s"),
            ServerRequests: counters.Requests - requestsBefore,
            DrainMs: drain.TotalMilliseconds,
            P50Ms: Stats.PercentileMs(latencies, latencies.Length, 50),
            MaxMs: Stats.PercentileMs(latencies, latencies.Length, 100),
            Failures: failures,
            TimedOut: cts.IsCancellationRequested,
            ServerMaxConcurrency: UpstreamCounters.Required(counters.MaxConcurrency, "its concurrency"),
            FirstError: firstError,
            Timeline: timeline);
    }

    /// <summary>One round of one client, as the server and the caller saw it.</summary>
    internal sealed record StormRun(
        int Refreshes,
        int RejectedRefreshes,
        int Unauthorized,
        long ServerRequests,
        double DrainMs,
        double P50Ms,
        double MaxMs,
        int Failures,
        bool TimedOut,
        int ServerMaxConcurrency,
        string? FirstError,
        string? Timeline = null);

    /// <summary>The NetActors bench client: a new session is a sign-in with no expiry.</summary>
    internal sealed class NetActorsStormClient(NetActorsClient client) : IStormClient
    {
        public string Name => BenchClients.NetActors;

        public Task StartSessionAsync(string accessToken, string refreshToken, CancellationToken cancellationToken) =>
            client.Net.SignInAsync(NetActorsClient.ClientName, new TokenSet(accessToken, refreshToken, ExpiresAt: null),
                cancellationToken);

        public Task GetAsync(string url, CancellationToken cancellationToken) => client.GetAsync(url, cancellationToken);
    }
}

/// <summary>A storm client whose session starts with a token the in-process server accepts (the refresh done by the bench).</summary>
internal sealed class ValidTokenClient(BenchServer server, IStormClient inner) : IStormClient
{
    public string Name => inner.Name + ", valid token";

    public Task StartSessionAsync(string accessToken, string refreshToken, CancellationToken cancellationToken)
    {
        var (access, refresh) = server.Tokens.Refresh(refreshToken) ??
                                throw new InvalidOperationException("the storm session's refresh token was not accepted");
        return inner.StartSessionAsync(access, refresh, cancellationToken);
    }

    public Task GetAsync(string url, CancellationToken cancellationToken) => inner.GetAsync(url, cancellationToken);
}

/// <summary>A client of the storm scenario: starts a session, then GETs with its bearer token.</summary>
internal interface IStormClient
{
    string Name { get; }

    /// <summary>Adopts new tokens, as after a sign-in; the access token may already be expired.</summary>
    Task StartSessionAsync(string accessToken, string refreshToken, CancellationToken cancellationToken);

    /// <summary>GETs <paramref name="url"/> and reads the body; throws unless the final answer is 200.</summary>
    Task GetAsync(string url, CancellationToken cancellationToken);
}
