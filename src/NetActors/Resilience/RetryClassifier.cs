using NetActors.Errors;

namespace NetActors.Resilience;

/// <summary>
/// Decides whether a failed attempt may be retried. Replace it per client with
/// <c>ClientBuilder.WithRetryClassifier</c>; the runtime still never retries an unsafe request (POST or PATCH
/// without an idempotency key), past <c>retry.max-attempts</c>, or past the total timeout.
/// </summary>
public static class RetryClassifier
{
    /// <summary>
    /// The default: network errors, connect and attempt timeouts, 408, 429, 500, 502, 503 and 504 are transient;
    /// other statuses, malformed bodies, invalid requests, the total timeout and cancellation are not.
    /// </summary>
    /// <param name="error">The failure of the attempt, as the caller would see it.</param>
    public static bool IsTransient(NetException error) => error switch
    {
        NetworkException => true,
        NetTimeoutException timeout => timeout.Kind != TimeoutKind.Total,
        HttpStatusException status => (int)status.StatusCode is 408 or 429 or 500 or 502 or 503 or 504,
        _ => false,
    };

    /// <summary>True for methods that may be repeated without changing the outcome (RFC 9110 §9.2.2).</summary>
    /// <param name="method">The HTTP method.</param>
    public static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options ||
        method == HttpMethod.Put || method == HttpMethod.Delete || method == HttpMethod.Trace;
}
