namespace NetActors.Benchmarks;

/// <summary>
/// What the server has counted since it started (or, for the maximum, since the last reset); null where the server
/// cannot count it (nginx: the maximum concurrency and the storm's counters).
/// </summary>
internal sealed record UpstreamCounters(
    long Requests,
    int? MaxConcurrency,
    int OpenConnections,
    long AcceptedConnections,
    int? Refreshes,
    int? RejectedRefreshes,
    int? StormUnauthorized)
{
    /// <summary>A counter the scenario needs, or a clear failure when this upstream cannot count it.</summary>
    public static int Required(int? value, string name) =>
        value ?? throw new InvalidOperationException($"this upstream does not count {name}");
}

/// <summary>
/// The bench server as a client sees it: <see cref="BenchServer"/> in this process, or one in another process
/// (the strict benchmark's RemoteUpstream, controlled over its /__bench endpoints).
/// </summary>
internal interface IUpstream
{
    /// <summary>The main origin, for example <c>http://127.0.0.1:41234/</c>.</summary>
    Uri BaseAddress { get; }

    /// <summary>The further ports, one distinct origin each (the many-origins scenario).</summary>
    IReadOnlyList<int> OriginPorts { get; }

    /// <summary>The bench session's access token, valid for the whole run.</summary>
    string BenchAccessToken { get; }

    /// <summary>The bench session's refresh token (never accepted: see <see cref="BenchTokens"/>).</summary>
    string BenchRefreshToken { get; }

    /// <summary>Reads the counters.</summary>
    Task<UpstreamCounters> CountersAsync();

    /// <summary>Forgets the maximum concurrency seen so far (call between measurements, when idle).</summary>
    Task ResetMaxConcurrencyAsync();

    /// <summary>See <see cref="BenchTokens.StartStormSession"/>.</summary>
    Task<(string StaleAccessToken, string RefreshToken)> StartStormSessionAsync();
}
