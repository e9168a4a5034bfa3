namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// The 401 storm: a burst of requests with an expired token, where exactly one refresh must happen and the
/// burst must complete. Not measurable yet.
/// </summary>
internal sealed class StormScenario
{
    public Task RunAsync(Report report)
    {
        // TODO(auth): needs bearer auth with single-flight refresh in the library. Then: a /token endpoint
        // (counting refresh calls), a protected endpoint that answers 401 to the stale token, a burst of N
        // requests at cap 6 with the token expired; report refresh calls (must be 1), burst wall time,
        // p50/p99, and the server-observed max concurrency (must be <= cap).
        report.Add(new Section("401 storm (netactors)", "client", "status")
            .Row(BenchClients.NetActors, "TODO: needs the bearer-auth feature"));
        return Task.CompletedTask;
    }
}
