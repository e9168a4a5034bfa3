namespace NetActors.Errors;

/// <summary>The request, or one attempt of it, took longer than its timeout.</summary>
public sealed class NetTimeoutException : NetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="info">The request.</param>
    /// <param name="timeout">The timeout that expired.</param>
    /// <param name="kind">Which timeout expired.</param>
    /// <param name="inner">The underlying cancellation, if any.</param>
    public NetTimeoutException(NetRequestInfo? info, TimeSpan timeout, TimeoutKind kind, Exception? inner = null)
        : base($"{Describe(info)} timed out: the {KindText(kind)} of {timeout.TotalSeconds:0.###} s expired{AttemptsText(info)}.", info, inner)
    {
        Timeout = timeout;
        Kind = kind;
    }

    /// <summary>The timeout that expired.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Which timeout expired.</summary>
    public TimeoutKind Kind { get; }

    private static string KindText(TimeoutKind kind) => kind switch
    {
        TimeoutKind.Total => "total timeout",
        TimeoutKind.Attempt => "response timeout",
        _ => "connect timeout",
    };
}

/// <summary>Which timeout a <see cref="NetTimeoutException"/> is about.</summary>
public enum TimeoutKind
{
    /// <summary>The whole request, queue wait and retries included.</summary>
    Total,

    /// <summary>One attempt, from sending to the end of the response body.</summary>
    Attempt,

    /// <summary>Opening the connection.</summary>
    Connect,
}

/// <summary>The upstream could not be reached: connection refused or reset, DNS failure, TLS failure.</summary>
public sealed class NetworkException(NetRequestInfo? info, string reason, Exception? inner)
    : NetException($"{Describe(info)} failed: {reason}{AttemptsText(info)}.", info, inner);

/// <summary>The realm's session has ended (rejected refresh, or terminated); sign in again.</summary>
public sealed class SessionExpiredException(NetRequestInfo? info, string realm, string reason)
    : NetException($"{Describe(info)} failed: the session of auth realm '{realm}' has expired ({reason}).", info)
{
    /// <summary>The auth realm whose session ended.</summary>
    public string Realm { get; } = realm;
}

/// <summary>
/// The origin's queue is full (or the auth realm's, when requests wait for its token): the request was not accepted.
/// Nothing was sent.
/// </summary>
/// <remarks>
/// Refusals are the one outcome that can come by the thousand per second: the message is made only when it is read.
/// </remarks>
public sealed class OverloadedException(NetRequestInfo? info, string origin, int queueCapacity)
    : NetException(string.Empty, info)
{
    private string? _message;

    /// <summary>The origin whose queue is full, or <c>auth realm &lt;name&gt;</c> when the realm's stash is.</summary>
    public string Origin { get; } = origin;

    /// <summary>
    /// How many requests the origin holds off the wire at most (its <c>queue-capacity</c>); for a full auth realm, how
    /// many requests wait for its token at most (the realm's <c>stash-capacity</c>).
    /// </summary>
    public int QueueCapacity { get; } = queueCapacity;

    /// <inheritdoc />
    public override string Message => _message ??=
        $"{(Method is null ? "request" : $"{Method} {Url}")} was rejected: the queue of {Origin} is full ({QueueCapacity} waiting).";
}

/// <summary>The origin's circuit breaker is open: the request failed fast without being sent.</summary>
public sealed class CircuitOpenException(NetRequestInfo? info, string origin, TimeSpan retryIn)
    : NetException($"{Describe(info)} failed fast: the circuit for {origin} is open (retry in {retryIn.TotalSeconds:0.#} s).", info)
{
    /// <summary>The origin whose circuit is open.</summary>
    public string Origin { get; } = origin;

    /// <summary>About how long until the circuit lets a probe through.</summary>
    public TimeSpan RetryIn { get; } = retryIn;
}

/// <summary>The response body is not what was declared or asked for (for example malformed JSON).</summary>
public sealed class ResponseFormatException(NetRequestInfo? info, string problem, Exception? inner)
    : NetException($"{Describe(info)} returned a body that could not be read: {problem}", info, inner);

/// <summary>The response body is larger than the client's <c>max-response-size</c>.</summary>
public sealed class ResponseTooLargeException(NetRequestInfo? info, long limit, long? declared)
    : NetException($"{Describe(info)} returned a body over the limit of {limit} bytes" +
                   (declared is null ? "." : $" (Content-Length {declared})."), info)
{
    /// <summary>The configured limit in bytes.</summary>
    public long Limit { get; } = limit;
}

/// <summary>
/// A download's file could not be written here (a full disk, a denied path): a local failure, not the upstream's,
/// so it is not retried and does not count against the origin's circuit.
/// </summary>
public sealed class DownloadWriteException(NetRequestInfo? info, Exception inner)
    : NetException($"{Describe(info)} could not write its download: {inner.GetType().Name}: {inner.Message}", info, inner);

/// <summary>The request itself is invalid (bad URL, bad header, unknown client); nothing was sent.</summary>
public sealed class InvalidRequestException(NetRequestInfo? info, string problem)
    : NetException($"Invalid request{(info is null ? string.Empty : $" {info.Method} {info.Url}")}: {problem}", info);

/// <summary>The runtime is shutting down: the request was not (or not completely) sent.</summary>
public sealed class NetShutdownException(NetRequestInfo? info)
    : NetException($"{Describe(info)} was abandoned: the NetActors runtime is shutting down.", info);

/// <summary>The runtime failed internally while handling the request (a bug, or a crashing user hook).</summary>
public sealed class NetRuntimeException(NetRequestInfo? info, string problem, Exception? inner)
    : NetException($"{Describe(info)} failed inside the runtime: {problem}", info, inner);
