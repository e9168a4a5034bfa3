namespace NetActors.Errors;

/// <summary>
/// The request needed a token of its auth realm and the token endpoint cannot be reached (network error, timeout,
/// 5xx): the realm keeps its session and retries its refresh, but not within this request's remaining time.
/// Nothing was sent with a stale token.
/// </summary>
public sealed class TokenUnavailableException(NetRequestInfo? info, string realm, string lastCause, DateTimeOffset? retryAt)
    : NetException($"{Describe(info)} failed: no token for auth realm '{realm}', its token endpoint cannot be reached " +
                   $"(last attempt: {lastCause}).", info)
{
    /// <summary>The auth realm.</summary>
    public string Realm { get; } = realm;

    /// <summary>Why the last refresh attempt failed, in words, without secrets.</summary>
    public string LastCause { get; } = lastCause;

    /// <summary>When the realm's next refresh attempt is due, if known.</summary>
    public DateTimeOffset? RetryAt { get; } = retryAt;
}
