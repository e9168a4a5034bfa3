using NetActors.Auth;
using NetActors.Configuration;

namespace NetActors.Hosting;

/// <summary>
/// Configures an auth realm from C#. Settings write the HOCON keys of <c>netactors.auth.realms.&lt;name&gt;</c>
/// (named in each method's docs); delegates, stores and callbacks are kept beside them.
/// </summary>
public sealed class AuthRealmBuilder
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    internal AuthRealmBuilder(string name)
    {
        Name = name;
    }

    /// <summary>The realm's name.</summary>
    public string Name { get; }

    internal RealmRegistration Registration { get; } = new();

    /// <summary>
    /// <c>strategy = endpoint</c>: refresh through an endpoint of the API. By default it POSTs
    /// <c>{"refresh_token": "…"}</c> as JSON and reads <c>access_token</c>, <c>refresh_token</c> and
    /// <c>expires_in</c> from the JSON answer; <paramref name="configure"/> changes any of that.
    /// </summary>
    /// <param name="path">Path relative to the token client's base address, or an absolute URL.</param>
    /// <param name="configure">Sets other <c>endpoint.*</c> keys through <see cref="Set"/>.</param>
    public AuthRealmBuilder WithRefreshEndpoint(string path, Action<AuthRealmBuilder>? configure = null)
    {
        Set("strategy", "endpoint");
        Set("endpoint.path", HoconText.Quote(path));
        configure?.Invoke(this);
        return this;
    }

    /// <summary><c>strategy = oauth-refresh-token</c>: the OAuth 2.0 refresh_token grant (RFC 6749 §6).</summary>
    /// <param name="tokenEndpoint">The token endpoint (absolute, or relative to the token client).</param>
    /// <param name="clientId">The client id, or null when the endpoint needs no client authentication (no <c>client_id</c> is sent).</param>
    /// <param name="clientSecret">The client secret, or null for a public client.</param>
    /// <param name="scope">The scope, or null.</param>
    public AuthRealmBuilder WithOAuthRefreshToken(string tokenEndpoint, string? clientId = null, string? clientSecret = null,
        string? scope = null) => OAuth("oauth-refresh-token", tokenEndpoint, clientId, clientSecret, scope);

    /// <summary><c>strategy = oauth-client-credentials</c>: the OAuth 2.0 client_credentials grant.</summary>
    /// <param name="tokenEndpoint">The token endpoint (absolute, or relative to the token client).</param>
    /// <param name="clientId">The client id.</param>
    /// <param name="clientSecret">The client secret.</param>
    /// <param name="scope">The scope, or null.</param>
    public AuthRealmBuilder WithOAuthClientCredentials(string tokenEndpoint, string clientId, string clientSecret,
        string? scope = null) => OAuth("oauth-client-credentials", tokenEndpoint, clientId, clientSecret, scope);

    /// <summary>
    /// <c>strategy = delegate</c>: refresh with your own code. Send calls through
    /// <see cref="TokenRefreshContext.SendAsync"/> so they respect the origin's cap; throw
    /// <see cref="TokenRejectedException"/> when the server rejected the refresh (the session ends).
    /// </summary>
    /// <param name="refresher">Returns the new tokens.</param>
    public AuthRealmBuilder WithRefresher(Func<TokenRefreshContext, CancellationToken, Task<TokenSet>> refresher)
    {
        ArgumentNullException.ThrowIfNull(refresher);
        Registration.Refresher = refresher;
        return Set("strategy", "delegate");
    }

    /// <summary><c>origins</c>: further origins the token may be sent to.</summary>
    /// <param name="origins">Absolute http(s) origins.</param>
    public AuthRealmBuilder WithOrigins(params string[] origins) =>
        Set("origins", "[" + string.Join(", ", origins.Select(HoconText.Quote)) + "]");

    /// <summary><c>token-client</c>: the client refresh calls go through.</summary>
    /// <param name="client">A client name.</param>
    public AuthRealmBuilder WithTokenClient(string client) => Set("token-client", HoconText.Quote(client));

    /// <summary><c>refresh-skew</c>: refresh at most this long before expiry.</summary>
    /// <param name="skew">Zero or more.</param>
    public AuthRealmBuilder WithRefreshSkew(TimeSpan skew) => Set("refresh-skew", HoconText.Duration(skew));

    /// <summary><c>refresh-skew-ratio</c>: refresh this fraction of the lifetime before expiry, if shorter than the skew.</summary>
    /// <param name="ratio">Between 0 and 0.9.</param>
    public AuthRealmBuilder WithRefreshSkewRatio(double ratio) => Set("refresh-skew-ratio", HoconText.Number(ratio));

    /// <summary>
    /// <c>refresh-timeout</c>: the realm's own deadline for one refresh attempt, whatever the strategy (a delegate
    /// included); past it the attempt is abandoned and retried with backoff.
    /// </summary>
    /// <param name="timeout">Greater than zero.</param>
    public AuthRealmBuilder WithRefreshTimeout(TimeSpan timeout) => Set("refresh-timeout", HoconText.Duration(timeout));

    /// <summary>
    /// <c>refresh-retry.min-backoff</c> and <c>max-backoff</c>: the exponential backoff (with jitter) between
    /// attempts while the token endpoint cannot be reached.
    /// </summary>
    /// <param name="min">The first delay.</param>
    /// <param name="max">The cap; at least <paramref name="min"/>.</param>
    public AuthRealmBuilder WithRefreshBackoff(TimeSpan min, TimeSpan max) =>
        Set("refresh-retry.min-backoff", HoconText.Duration(min)).Set("refresh-retry.max-backoff", HoconText.Duration(max));

    /// <summary>
    /// <c>refresh-retry.on-demand-after</c>: while a retry is scheduled, a request needing a token starts it at once
    /// when the last attempt failed at least this long ago.
    /// </summary>
    /// <param name="after">Zero or more.</param>
    public AuthRealmBuilder WithRetryOnDemandAfter(TimeSpan after) => Set("refresh-retry.on-demand-after", HoconText.Duration(after));

    /// <summary><c>min-refresh-interval</c>: proactive refreshes start no more often than this.</summary>
    /// <param name="interval">Zero or more.</param>
    public AuthRealmBuilder WithMinRefreshInterval(TimeSpan interval) => Set("min-refresh-interval", HoconText.Duration(interval));

    /// <summary><c>token-lifetime.proactive-floor</c>: a shorter lifetime is treated as unknown for proactive refresh.</summary>
    /// <param name="floor">Zero or more, below the maximum lifetime.</param>
    public AuthRealmBuilder WithProactiveRefreshFloor(TimeSpan floor) => Set("token-lifetime.proactive-floor", HoconText.Duration(floor));

    /// <summary><c>token-lifetime.max</c>: a longer lifetime (from <c>expires_in</c> or <c>exp</c>) is clamped to this.</summary>
    /// <param name="max">Greater than zero, at most 10 years.</param>
    public AuthRealmBuilder WithMaxTokenLifetime(TimeSpan max) => Set("token-lifetime.max", HoconText.Duration(max));

    /// <summary>
    /// <c>idle-refresh-after</c>: proactive refresh pauses once no request has used the token for this long; the
    /// next request refreshes first if the token is stale. Null (the default, <c>off</c>): never pauses, which keeps
    /// sliding refresh-token lifetimes alive while the service is idle.
    /// </summary>
    /// <param name="idle">Greater than zero, or null for never.</param>
    public AuthRealmBuilder WithIdleRefreshAfter(TimeSpan? idle) =>
        Set("idle-refresh-after", idle is { } d ? HoconText.Duration(d) : "off");

    /// <summary><c>stash-capacity</c>: token requests that may wait while a refresh runs; beyond it they fail.</summary>
    /// <param name="capacity">At least 1.</param>
    public AuthRealmBuilder WithStashCapacity(int capacity) => Set("stash-capacity", HoconText.Number(capacity));

    /// <summary>
    /// <c>oauth.client-authentication</c>: how an OAuth client authenticates at the token endpoint.
    /// </summary>
    /// <param name="basic">True for HTTP Basic (RFC 6749 2.3.1, the default), false for the credentials in the form body.</param>
    public AuthRealmBuilder WithClientAuthentication(bool basic) =>
        Set("oauth.client-authentication", basic ? "basic" : "post");

    /// <summary>
    /// <c>endpoint.response-format</c>: how a refresh endpoint's successful answer is read: JSON (dotted paths),
    /// form-encoded fields, or plain text (the whole body is the access token).
    /// </summary>
    /// <param name="format">The form.</param>
    public AuthRealmBuilder WithRefreshAnswerFormat(TokenAnswerFormat format) =>
        Set("endpoint.response-format", format switch
        {
            TokenAnswerFormat.Form => "form",
            TokenAnswerFormat.Text => "text",
            _ => "json",
        });

    /// <summary>
    /// <c>dpop.enabled = on</c>: sender-constrained tokens (DPoP, RFC 9449) with a new ES256 key per process. Token and
    /// resource requests carry a fresh proof per attempt, tokens go as <c>Authorization: DPoP</c>, and a server's
    /// <c>DPoP-Nonce</c> is used. Tokens are bound to the key: to keep a session across restarts or cluster members,
    /// give the key with <see cref="WithDPoP(System.Security.Cryptography.ECDsa)"/>.
    /// </summary>
    public AuthRealmBuilder WithDPoP() => Set("dpop.enabled", "on");

    /// <summary><c>dpop.enabled = on</c> with your ECDsa P-256 key (<c>dpop.key</c>; a secret, never logged).</summary>
    /// <param name="key">A P-256 private key; it is exported once, the realm uses its own copy.</param>
    public AuthRealmBuilder WithDPoP(System.Security.Cryptography.ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!RealmSettings.IsP256(key))
        {
            throw new ArgumentException("a DPoP key must be an ECDsa P-256 key (ES256).", nameof(key));
        }

        return WithDPoP().Set("dpop.key", HoconText.Quote(Convert.ToBase64String(key.ExportPkcs8PrivateKey())));
    }

    /// <summary>A token store of your own (a shared store for several instances, say).</summary>
    /// <param name="store">The store.</param>
    public AuthRealmBuilder WithTokenStore(ITokenStore store)
    {
        Registration.Store = store ?? throw new ArgumentNullException(nameof(store));
        return this;
    }

    /// <summary><c>store.type = file</c>: keep tokens in owner-only files in <paramref name="directory"/>.</summary>
    /// <param name="directory">The directory.</param>
    public AuthRealmBuilder WithFileTokenStore(string directory) =>
        Set("store.type", "file").Set("store.path", HoconText.Quote(directory));

    /// <summary>Called (off the actor) when the realm's session ends.</summary>
    /// <param name="callback">The callback; keep it short, exceptions are logged.</param>
    public AuthRealmBuilder OnSessionExpired(Action<SessionExpired> callback)
    {
        Registration.OnExpired.Add(callback);
        return this;
    }

    /// <summary>
    /// Called (off the actor) after each refresh. Callbacks of refreshes close together may run at once and out of
    /// order: <see cref="TokenRefreshed.Version"/> says which is newer.
    /// </summary>
    /// <param name="callback">The callback; keep it short, exceptions are logged.</param>
    public AuthRealmBuilder OnTokenRefreshed(Action<TokenRefreshed> callback)
    {
        Registration.OnRefreshed.Add(callback);
        return this;
    }

    /// <summary>Sets any key of the realm's HOCON section to a raw HOCON value.</summary>
    /// <param name="key">The key, for example <c>endpoint.body-format</c>.</param>
    /// <param name="hoconValue">The value as HOCON text.</param>
    public AuthRealmBuilder Set(string key, string hoconValue)
    {
        _values[key] = hoconValue;
        return this;
    }

    private AuthRealmBuilder OAuth(string strategy, string endpoint, string? clientId, string? secret, string? scope)
    {
        Set("strategy", strategy);
        Set("oauth.token-endpoint", HoconText.Quote(endpoint));
        Set("oauth.client-id", HoconText.Quote(clientId ?? string.Empty));
        if (secret is not null)
        {
            Set("oauth.client-secret", HoconText.Quote(secret));
        }

        if (scope is not null)
        {
            Set("oauth.scope", HoconText.Quote(scope));
        }

        return this;
    }

    internal string ToHocon() =>
        $"netactors.auth.realms.{HoconText.Quote(Name)} {{\n{string.Join("\n", _values.Select(kv => $"  {kv.Key} = {kv.Value}"))}\n}}\n";
}
