namespace NetActors.Auth;

/// <summary>Published on the event stream when a realm obtained a new access token.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Version">The new token version.</param>
/// <param name="ExpiresAt">The new token's expiry, if known.</param>
/// <param name="Proactive">True when refreshed ahead of expiry rather than because a request needed it.</param>
public sealed record TokenRefreshed(string Realm, long Version, DateTimeOffset? ExpiresAt, bool Proactive);

/// <summary>
/// Published on the event stream (and passed to the realm's <c>OnSessionExpired</c> callback) when a realm's
/// session ends: the refresh was rejected, or the session was terminated. Until the next sign-in every
/// authenticated request of the realm fails fast with <see cref="Errors.SessionExpiredException"/>.
/// </summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Reason">Why the session ended, without secrets.</param>
public sealed record SessionExpired(string Realm, string Reason);

/// <summary>
/// Thrown by a token refresher when the server rejected the refresh (for example <c>invalid_grant</c>): the
/// session ends. Any other exception from a refresher counts as "could not refresh now" and is retried.
/// </summary>
public sealed class TokenRejectedException(string reason, Exception? inner = null)
    : Exception($"The token refresh was rejected: {reason}", inner)
{
    /// <summary>Why the refresh was rejected, without secrets.</summary>
    public string Reason { get; } = reason;
}
