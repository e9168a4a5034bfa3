namespace NetActors.Auth;

// Messages of the TokenActor. They carry only strings, numbers and times, so they can cross nodes. The token
// protocol (GetToken and its answers) is internal: only the runtime's own actors ask a realm for its token, and the
// gateway forwards nothing of it, so no application code can read a bearer token through the actor system.

/// <summary>
/// Asks for a usable token of <paramref name="Realm"/> newer than <paramref name="StaleVersion"/> (the version
/// the asker knows is expired or was rejected with 401; 0 when it has none). The asker is subscribed to later
/// tokens and to the session's end.
/// </summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="StaleVersion">The version the asker cannot use.</param>
internal sealed record GetToken(string Realm, long StaleVersion);

/// <summary>A usable token. Sent in reply to <see cref="GetToken"/> and pushed to subscribers on every change.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="AccessToken">The bearer token.</param>
/// <param name="Version">Its version.</param>
/// <param name="ExpiresAt">Its expiry, if known.</param>
internal sealed record TokenGranted(string Realm, string AccessToken, long Version, DateTimeOffset? ExpiresAt)
{
    /// <summary>
    /// True when this token starts a session (a sign-in), not a refresh of the current one: whatever was cached
    /// for the realm's previous session must go (each cluster member clears its own HTTP caches on it).
    /// </summary>
    public bool NewSession { get; init; }

    /// <summary>Never shows the token.</summary>
    public override string ToString() => $"TokenGranted {{ Realm = {Realm}, Version = {Version}, ExpiresAt = {ExpiresAt:O} }}";
}

/// <summary>Why a token could not be granted.</summary>
internal enum TokenDenial
{
    /// <summary>The session has ended (or never started): sign in again.</summary>
    SessionExpired,

    /// <summary>Too many token requests are waiting for the refresh.</summary>
    Overloaded,

    /// <summary>The token endpoint's answer could not be used; the session is kept.</summary>
    Malformed,

    /// <summary>The realm's actor failed while handling the request (it restarts with its tokens).</summary>
    Failed,

    /// <summary>Cluster mode: this member has not joined a cluster, so the realm's singleton cannot be reached.</summary>
    ClusterUnavailable,
}

/// <summary>No token: the session ended, the wait list is full, or the refresh answer was unusable.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Denial">Why.</param>
/// <param name="Reason">In words, without secrets.</param>
internal sealed record TokenDenied(string Realm, TokenDenial Denial, string Reason);

/// <summary>
/// The token endpoint cannot be reached (network error, timeout, 5xx): the realm retries its refresh at
/// <paramref name="RetryAt"/>, keeping the session. Sent to the askers waiting for a token, which fail the
/// requests whose remaining time cannot cover the retry with <see cref="Errors.TokenUnavailableException"/>;
/// the others keep waiting for the token.
/// </summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Reason">The last attempt's failure, in words, without secrets.</param>
/// <param name="RetryAt">When the next attempt is due.</param>
internal sealed record TokenUnavailable(string Realm, string Reason, DateTimeOffset RetryAt);

/// <summary>
/// A host actor used the realm's token (sent at most a few times per <c>idle-refresh-after</c>, and only when that is
/// set): the realm is not idle, so proactive refresh goes on, or resumes.
/// </summary>
/// <param name="Realm">The auth realm.</param>
internal sealed record TokenInUse(string Realm);

/// <summary>Starts a session with <paramref name="Tokens"/>; the reply is <see cref="SignedIn"/>.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Tokens">The tokens.</param>
public sealed record SignIn(string Realm, TokenSet Tokens)
{
    /// <summary>
    /// Identifies the call when it may be sent more than once (cluster mode re-sends it until the realm's
    /// singleton answers): a repeat is answered again and not applied twice, and its reply carries the same id.
    /// </summary>
    public Guid CallId { get; init; }

    /// <summary>
    /// When the call stops counting (cluster mode): its caller has been answered with a failure by then, so the
    /// realm's singleton drops a copy that arrives later instead of applying it. Null: no deadline.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }

}


/// <summary>The session started; its token has <paramref name="Version"/>.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Version">The token version.</param>
public sealed record SignedIn(string Realm, long Version)
{
    /// <summary>
    /// Identifies the call when it may be sent more than once (cluster mode re-sends it until the realm's
    /// singleton answers): a repeat is answered again and not applied twice, and its reply carries the same id.
    /// </summary>
    public Guid CallId { get; init; }
}


/// <summary>Ends the session: tokens cleared, waiting requests failed; the reply is <see cref="SessionTerminated"/>.</summary>
/// <param name="Realm">The auth realm.</param>
/// <param name="Reason">Why, for the event and the errors.</param>
public sealed record TerminateSession(string Realm, string Reason)
{
    /// <summary>
    /// Identifies the call when it may be sent more than once (cluster mode re-sends it until the realm's
    /// singleton answers): a repeat is answered again and not applied twice, and its reply carries the same id.
    /// </summary>
    public Guid CallId { get; init; }

    /// <summary>
    /// When the call stops counting (cluster mode): its caller has been answered with a failure by then, so the
    /// realm's singleton drops a copy that arrives later instead of applying it. Null: no deadline.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }

}


/// <summary>The session has been terminated.</summary>
/// <param name="Realm">The auth realm.</param>
public sealed record SessionTerminated(string Realm)
{
    /// <summary>
    /// Identifies the call when it may be sent more than once (cluster mode re-sends it until the realm's
    /// singleton answers): a repeat is answered again and not applied twice, and its reply carries the same id.
    /// </summary>
    public Guid CallId { get; init; }
}


/// <summary>
/// Cluster mode: subscribes the sender (a member's realm client) to the realm's token changes and events without
/// asking for a token, so it never starts a refresh. The reply is <see cref="TokenSubscribed"/>, then the current
/// token if it is usable, or a <see cref="TokenDenied"/> if the session has ended.
/// </summary>
/// <param name="Realm">The auth realm.</param>
internal sealed record SubscribeToken(string Realm);

/// <summary>The sender (the realm's TokenActor) has subscribed the receiver.</summary>
/// <param name="Realm">The auth realm.</param>
internal sealed record TokenSubscribed(string Realm);

/// <summary>
/// Cluster mode: the singleton's termination message when it moves to another member. Sent locally by the
/// singleton manager; never crosses nodes.
/// </summary>
internal sealed class HandOver
{
    public static readonly HandOver Instance = new();

    private HandOver()
    {
    }
}
