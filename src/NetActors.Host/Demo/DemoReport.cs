using NetActors.Host.Load;
using NetActors.Host.Options;
using static NetActors.Host.Load.RunReport;

namespace NetActors.Host.Demo;

/// <summary>What the startup burst did.</summary>
/// <param name="Requests">Requests sent at once.</param>
/// <param name="Succeeded">Requests answered with a response.</param>
/// <param name="Failures">Failed requests by kind.</param>
/// <param name="Refreshes">Refresh calls the token endpoint accepted during the burst.</param>
/// <param name="Unauthorized">Requests the upstream answered 401.</param>
/// <param name="UpstreamMax">The most requests the API origin had in progress at once.</param>
/// <param name="Cap">The API client's connection cap.</param>
/// <param name="Elapsed">Wall time of the burst.</param>
internal sealed record BurstResult(int Requests, int Succeeded, IReadOnlyDictionary<string, int> Failures, int Refreshes,
    int Unauthorized, int UpstreamMax, int Cap, TimeSpan Elapsed)
{
    /// <summary>Requests that got no outcome (must be 0).</summary>
    public int WithoutOutcome => Requests - Succeeded - Failures.Values.Sum();
}

/// <summary>Auth as the token endpoint and the runtime's events saw it.</summary>
/// <param name="Refreshes">Every accepted refresh.</param>
/// <param name="Proactive">Refreshes the runtime made ahead of expiry (TokenRefreshed events).</param>
/// <param name="Reactive">Refreshes the runtime made after a 401 or for a token known to be expired.</param>
/// <param name="Reused">Refresh calls presenting an already used refresh token.</param>
/// <param name="Rejected">Refresh calls rejected.</param>
/// <param name="SessionsEnded">SessionExpired events.</param>
/// <param name="Unauthorized">401s the upstream sent in all.</param>
internal sealed record AuthResult(IReadOnlyList<RefreshRecord> Refreshes, int Proactive, int Reactive, int Reused, int Rejected,
    int SessionsEnded, int Unauthorized);

/// <summary>The demo's summary: what happened, and which invariants held.</summary>
internal sealed record DemoReport
{
    /// <summary>The demo's options.</summary>
    public required DemoOptions Options { get; init; }

    /// <summary>The startup burst.</summary>
    public required BurstResult Burst { get; init; }

    /// <summary>The mixed workload.</summary>
    public required LoadResult Load { get; init; }

    /// <summary>Every request of the run (burst included).</summary>
    public required LedgerSummary Ledger { get; init; }

    /// <summary>What the NetActors meter reported.</summary>
    public required MetricsSnapshot Metrics { get; init; }

    /// <summary>Per origin.</summary>
    public required IReadOnlyList<OriginReport> Origins { get; init; }

    /// <summary>Auth.</summary>
    public required AuthResult Auth { get; init; }

    /// <summary>The workload's own counters (cache by hand, pages, uploads, flags).</summary>
    public required DemoSteps Steps { get; init; }

    /// <summary>The upstream's counters.</summary>
    public required (int RateLimited, int Orders, (int Count, long Bytes) Uploads, IReadOnlyDictionary<string, int> Faults, int FlagFetches) Upstream { get; init; }

    /// <summary>The invariants, checked.</summary>
    public required IReadOnlyList<InvariantCheck> Checks { get; init; }

    /// <summary>The checks that failed.</summary>
    public IReadOnlyList<InvariantCheck> Violations => Checks.Where(c => !c.Held).ToList();

    /// <summary>Writes the summary.</summary>
    public void WriteTo(TextWriter output)
    {
        var b = Burst;
        output.WriteLine();
        output.WriteLine("NetActors demo: summary");
        output.WriteLine($"  startup burst: {b.Requests} requests at once with an expired access token, cap {b.Cap}: {b.Refreshes} refresh, " +
                         $"{b.Unauthorized} saw 401, {b.Succeeded} ok, {b.Requests - b.Succeeded} failed{Paren(Kinds(b.Failures))}, " +
                         $"upstream max {b.UpstreamMax} at once, {Ms(b.Elapsed)}");
        output.WriteLine($"  mixed workload: {Load.Started} operations in {Load.Issuing.TotalSeconds:0.0} s ({Load.Rate:0.0}/s), the last done after {Load.Elapsed.TotalSeconds:0.0} s, " +
                         $"seed {Options.Seed}; upstream faults {Options.FaultRate:P0}{Paren(Kinds(Upstream.Faults))}, " +
                         $"search limited to {Options.SearchPerSecond}/s ({Upstream.RateLimited} answered 429)");
        WriteTables(output, Load, Origins, Metrics);
        var a = Auth;
        output.WriteLine($"  auth: {a.Refreshes.Count} access tokens replaced ({a.Proactive} ahead of expiry, {a.Reactive} after a 401 or at expiry), " +
                         $"token lifetime {Options.TokenLifetime.TotalSeconds:0.#} s; {a.Reused} refresh tokens reused, {a.SessionsEnded} sessions ended");
        output.WriteLine($"  reference data (the public client's HTTP cache): {Steps.CacheFresh} fresh, {Steps.CacheRevalidated} revalidated (304), " +
                         $"{Steps.CacheMisses} downloaded; feature flags: {Steps.FlagReads} reads, {Steps.FlagChanges} changes seen");
        output.WriteLine($"  data: {Steps.Paging.Listings} listings complete in {Steps.Paging.Pages} pages, {Steps.UploadsVerified} multipart uploads verified by SHA-256 " +
                         $"({Upstream.Uploads.Count} received, {Upstream.Uploads.Bytes / 1024} KiB), " +
                         $"{Upstream.Orders} orders placed, {Steps.RedirectsFollowed} exports through a cross-origin redirect");
        output.WriteLine();
        output.WriteLine("invariants");
        WriteChecks(output, Checks);
    }

    private static string Paren(string text) => text.Length == 0 ? string.Empty : $" ({text})";
}
