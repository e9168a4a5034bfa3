using System.Diagnostics;
using NetActors.Errors;

namespace NetActors.Host.Demo;

/// <summary>What the demo saw.</summary>
/// <param name="Requests">Requests sent.</param>
/// <param name="Succeeded">Requests that got a response.</param>
/// <param name="FailuresByKind">Failed requests by exception type.</param>
/// <param name="MaxConcurrency">The most requests the upstream had in progress at once.</param>
/// <param name="Cap">The configured connection cap.</param>
/// <param name="Elapsed">Wall time of the burst.</param>
/// <param name="Refreshes">Token refresh calls the upstream received.</param>
/// <param name="Unauthorized">Requests the upstream answered 401.</param>
public sealed record DemoSummary(int Requests, int Succeeded, IReadOnlyDictionary<string, int> FailuresByKind,
    int MaxConcurrency, int Cap, TimeSpan Elapsed, int Refreshes, int Unauthorized)
{
    /// <summary>Requests that got no outcome at all (must be 0).</summary>
    public int WithoutOutcome => Requests - Succeeded - FailuresByKind.Values.Sum();

    /// <summary>Invariants that broke, in words; empty when all held.</summary>
    public IReadOnlyList<string> Violations
    {
        get
        {
            var list = new List<string>();
            if (WithoutOutcome != 0)
            {
                list.Add($"{WithoutOutcome} requests got no outcome.");
            }

            if (Refreshes != 1)
            {
                list.Add($"the burst with an expired token caused {Refreshes} refresh calls, not exactly 1.");
            }

            if (MaxConcurrency > Cap)
            {
                list.Add($"the upstream saw {MaxConcurrency} concurrent requests, above the cap of {Cap}.");
            }

            return list;
        }
    }
}

/// <summary>Sends the demo's burst through the runtime and summarises what happened.</summary>
public static class DemoRunner
{
    /// <summary>
    /// The seed article's startup burst: <paramref name="requests"/> requests at once with an access token the
    /// upstream has expired. Waits for every outcome.
    /// </summary>
    /// <param name="net">The NetActors facade.</param>
    /// <param name="upstream">The demo upstream (for its counters).</param>
    /// <param name="requests">How many requests to send.</param>
    /// <param name="cap">The client's connection cap, for the summary.</param>
    /// <param name="cancellationToken">Stops the demo.</param>
    public static async Task<DemoSummary> RunBurstAsync(INetClient net, DemoUpstream upstream, int requests, int cap,
        CancellationToken cancellationToken)
    {
        var failures = new Dictionary<string, int>();
        var ok = 0;
        await net.SignInAsync("demo", upstream.ExpiredSession(), cancellationToken);
        var stopwatch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, requests)
            .Select(i => net.SendAsync(NetRequest.Get("demo", $"api/items/{i}"), cancellationToken))
            .ToList();
        foreach (var task in tasks)
        {
            try
            {
                await task;
                ok++;
            }
            catch (Exception e) when (e is NetException or OperationCanceledException)
            {
                var kind = e.GetType().Name;
                failures[kind] = failures.GetValueOrDefault(kind) + 1;
            }
        }

        return new DemoSummary(requests, ok, failures, upstream.MaxConcurrent, cap, stopwatch.Elapsed,
            upstream.RefreshCalls, upstream.Unauthorized);
    }
}
