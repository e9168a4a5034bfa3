namespace NetActors.Host.Options;

/// <summary>What the host runs.</summary>
internal enum HostMode
{
    /// <summary>The demo: an embedded upstream, the startup burst, then a mixed workload.</summary>
    Demo,

    /// <summary>A workload described in configuration, against the API it names.</summary>
    Workload,
}

/// <summary>The host's options, read from configuration and validated (<see cref="HostOptionsReader"/>).</summary>
/// <param name="Mode">Demo or workload.</param>
/// <param name="HoconPath">The HOCON file with the runtime's settings (null: none).</param>
/// <param name="ProgressInterval">Time between live progress lines; zero: none.</param>
/// <param name="Verbose">Log every request and retry.</param>
/// <param name="Demo">The demo's options.</param>
/// <param name="Workload">The workload (in workload mode).</param>
internal sealed record HostRunOptions(HostMode Mode, string? HoconPath, TimeSpan ProgressInterval, bool Verbose, DemoOptions Demo,
    WorkloadOptions? Workload);

/// <summary>The demo's options (section <c>Demo</c>).</summary>
internal sealed record DemoOptions
{
    /// <summary>How long the mixed workload runs after the startup burst.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Requests in the startup burst.</summary>
    public int BurstRequests { get; init; } = 60;

    /// <summary>Lifetime of the upstream's access tokens.</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Operations started per second.</summary>
    public double Rate { get; init; } = 60;

    /// <summary>Operations in progress at most.</summary>
    public int Concurrency { get; init; } = 64;

    /// <summary>Seeds the upstream's faults and flags and the workload's choices.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Share of requests that get a 5xx, a reset or a slow answer.</summary>
    public double FaultRate { get; init; } = 0.08;

    /// <summary>The search endpoint's rate limit.</summary>
    public int SearchPerSecond { get; init; } = 4;
}

/// <summary>A workload against an API of the user's (section <c>Workload</c>).</summary>
/// <param name="Client">The NetActors client the requests go through.</param>
/// <param name="BaseAddress">Sets the client's base address (null: as configured in HOCON).</param>
/// <param name="Duration">How long operations are started.</param>
/// <param name="Rate">Requests started per second; 0: as fast as <paramref name="Concurrency"/> allows.</param>
/// <param name="Concurrency">Requests in progress at most.</param>
/// <param name="Seed">Seeds the choice of endpoints and the values of placeholders.</param>
/// <param name="Endpoints">What to call, by weight.</param>
/// <param name="SignIn">Tokens to sign the client's realm in with (null: none).</param>
internal sealed record WorkloadOptions(string Client, Uri? BaseAddress, TimeSpan Duration, double Rate, int Concurrency, int Seed,
    IReadOnlyList<EndpointOptions> Endpoints, SignInOptions? SignIn);

/// <summary>One endpoint of a workload.</summary>
/// <param name="Name">Shown in the summary.</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">URL relative to the client's base address (or absolute), with placeholders.</param>
/// <param name="Weight">Relative frequency.</param>
/// <param name="Body">Request body with placeholders, or null.</param>
/// <param name="ContentType">The body's media type.</param>
/// <param name="Headers">Extra headers.</param>
/// <param name="IdempotencyKey">Send a fresh idempotency key with each request (makes POST/PATCH retryable).</param>
internal sealed record EndpointOptions(string Name, HttpMethod Method, string Path, int Weight, string? Body, string ContentType,
    IReadOnlyList<KeyValuePair<string, string>> Headers, bool IdempotencyKey);

/// <summary>Tokens to start a session with (from a secret store or the environment; never printed).</summary>
/// <param name="Realm">The auth realm (null: the client's).</param>
/// <param name="AccessToken">The access token.</param>
/// <param name="RefreshToken">The refresh token, if any.</param>
internal sealed record SignInOptions(string? Realm, string AccessToken, string? RefreshToken)
{
    /// <inheritdoc />
    public override string ToString() => $"SignInOptions {{ Realm = {Realm} }}";
}

/// <summary>The host's configuration is not usable; <see cref="Problems"/> says why, one line each, naming the key.</summary>
internal sealed class HostConfigurationException(IReadOnlyList<string> problems)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    /// <summary>What is wrong, one problem a line, each naming its key.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}
