using Microsoft.Extensions.Configuration;
using NetActors.Host;
using NetActors.Host.Demo;
using NetActors.Host.Options;

namespace NetActors.Tests.Host;

// The demo is a load of its own (three Kestrel origins, 40 operations a second): it runs alone, so that it
// neither disturbs the timing of other classes nor is disturbed by them.
[Collection(TimingCollection.Name)]
public sealed class DemoTests
{
    private static HostRunOptions Demo(TimeSpan duration, TimeSpan tokenLifetime) =>
        new(HostMode.Demo, HoconPath: null, ProgressInterval: TimeSpan.Zero, Verbose: false,
            // Seed 189 picks every kind of operation within its first 21, so even a slow run exercises each.
            new DemoOptions { Duration = duration, TokenLifetime = tokenLifetime, Rate = 40, Concurrency = 32, Seed = 189 }, Workload: null);

    [Fact]
    public async Task The_demo_holds_every_invariant_through_the_startup_burst_and_a_mixed_workload_with_token_expiries()
    {
        var report = await DemoRunner.RunAsync(Demo(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(2)),
            new ConfigurationBuilder().Build(), output: null, logging: null, CancellationToken.None);

        Assert.Empty(report.Violations);

        // The seed article's burst: 60 requests with an expired token under cap 6 cause exactly one refresh.
        Assert.Equal(60, report.Burst.Requests);
        Assert.Equal(6, report.Burst.Cap);
        Assert.Equal(1, report.Burst.Refreshes);
        Assert.Equal(0, report.Burst.WithoutOutcome);
        Assert.InRange(report.Burst.Unauthorized, 1, 6);    // only the requests already on the wire saw 401

        // Tokens lived 2 s in a run of 4 s: they expired, and each expiry got exactly one refresh, near its end.
        Assert.True(report.Auth.Refreshes.Count >= 2, $"{report.Auth.Refreshes.Count} refreshes");
        Assert.Equal(report.Auth.Refreshes.Count, report.Auth.Refreshes.Select(r => r.ReplacedGeneration).Distinct().Count());
        Assert.All(report.Auth.Refreshes.Skip(1), r => Assert.True(r.Age >= r.Lifetime * 0.5, $"refreshed at {r.Age} of {r.Lifetime}"));
        Assert.Equal(0, report.Auth.Reused);
        Assert.Equal(0, report.Auth.SessionsEnded);
        Assert.Equal(report.Auth.Refreshes.Count, report.Metrics.RefreshesSucceeded);

        // Every request an outcome: the ledger's books balance, and the meter saw each one (and each refresh call and
        // each feature-flag fetch the runtime made on its own).
        Assert.True(report.Ledger.Started > 100, $"only {report.Ledger.Started} requests");
        Assert.Equal(report.Ledger.Started, report.Ledger.Finished);
        Assert.Equal(0, report.Load.Unfinished);
        Assert.True(report.Upstream.FlagFetches >= 2, $"{report.Upstream.FlagFetches} flag fetches in 4 s at a 2 s interval");
        Assert.Equal(report.Ledger.Finished + report.Auth.Refreshes.Count + report.Upstream.FlagFetches, report.Metrics.Requests);

        // The upstream never saw more requests at once than each origin's cap.
        Assert.Equal(["api", "files", "public"], report.Origins.Select(o => o.Name));
        Assert.Equal([6, 2, 4], report.Origins.Select(o => o.Cap ?? 0));
        Assert.All(report.Origins, o => Assert.InRange(o.UpstreamMax ?? -1, 1, o.Cap ?? 0));

        // Every kind of operation ran, against real faults, and the data checks had something to check.
        Assert.All(report.Load.Steps, s => Assert.True(s.Total > 0, $"{s.Name} never ran"));
        Assert.NotEmpty(report.Upstream.Faults);
        Assert.True(report.Steps.UploadsVerified > 0 && report.Steps.Paging.Listings > 0 && report.Steps.CacheHits > 0);
        Assert.True(report.Steps.UploadedBytes >= report.Upstream.Uploads.Bytes, "upload progress reported every byte sent");
        Assert.True(report.Steps.FlagReads > 0);
        Assert.Equal(report.Load.Steps.Single(s => s.Name == "export").Succeeded, report.Steps.RedirectsFollowed);
    }

    [Fact]
    public async Task The_demo_exits_non_zero_naming_the_invariant_when_tokens_are_refreshed_more_than_once_per_expiry()
    {
        // A refresh-skew-ratio of 0.9 makes the runtime refresh at a tenth of each token's lifetime: several
        // refreshes per expiry. The setting comes in the .NET way and overrides netactors.hocon.
        using var dir = new TempDirectory();
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await HostProgram.RunAsync(
            ["--duration", "1s", "--token-lifetime", "2s", "--no-progress", "--NetActors:auth:realms:demo:refresh-skew-ratio=0.9"],
            output, error, baseDirectory: dir.Path, environment: new Dictionary<string, string?>());

        Assert.Equal(HostProgram.InvariantBroken, exit);
        Assert.Contains("INVARIANT BROKEN: one refresh per token expiry", error.ToString());
        Assert.DoesNotContain("INVARIANT BROKEN: every request", error.ToString());
        Assert.Contains("NetActors demo: summary", output.ToString());
    }
}
