using System.Security.Cryptography;
using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>How a realm obtains new tokens.</summary>
public enum RefreshStrategy
{
    /// <summary>No refresh: tokens come from sign-in only; an expired or rejected token ends the session.</summary>
    None,

    /// <summary>A refresh endpoint of the API, described in configuration.</summary>
    Endpoint,

    /// <summary>OAuth 2.0 <c>refresh_token</c> grant (RFC 6749 section 6), rotating refresh tokens kept.</summary>
    OAuthRefreshToken,

    /// <summary>OAuth 2.0 <c>client_credentials</c> grant, for service-to-service calls.</summary>
    OAuthClientCredentials,

    /// <summary>A delegate supplied in C#.</summary>
    Delegate,
}

/// <summary>The form of a refresh endpoint's successful answer.</summary>
public enum TokenAnswerFormat
{
    /// <summary>A JSON object; the values are found by dotted paths.</summary>
    Json,

    /// <summary><c>application/x-www-form-urlencoded</c> fields (a JSON object is read too); the paths are field names.</summary>
    Form,

    /// <summary>The whole body is the access token (no refresh token, no lifetime: a JWT <c>exp</c> is still read).</summary>
    Text,
}

/// <summary>The typed, validated settings of one auth realm (<c>netactors.auth.realms.&lt;name&gt;</c>).</summary>
public sealed record RealmSettings
{
    /// <summary>
    /// The longest token lifetime a realm may believe: beyond it a lifetime is not a lifetime but a broken server
    /// (and beyond what time arithmetic holds). <c>token-lifetime.max</c> may not exceed it.
    /// </summary>
    internal static readonly TimeSpan MaxPlausibleLifetime = TimeSpan.FromDays(3650);

    /// <summary>The realm's name.</summary>
    public required string Name { get; init; }

    /// <summary>How new tokens are obtained.</summary>
    public RefreshStrategy Strategy { get; init; }

    /// <summary>Origin keys the token may be sent to (the realm's clients' base origins included).</summary>
    public IReadOnlySet<string> Origins { get; init; } = new HashSet<string>();

    /// <summary>The client whose HTTP path carries refresh calls.</summary>
    public string TokenClient { get; init; } = string.Empty;

    /// <summary>Refresh this long before expiry at most.</summary>
    public TimeSpan RefreshSkew { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.refresh-skew");

    /// <summary>Refresh this fraction of the lifetime before expiry, if shorter than <see cref="RefreshSkew"/>.</summary>
    public double RefreshSkewRatio { get; init; } = Configuration.ReferenceDefaults.Double("auth.realm-defaults.refresh-skew-ratio");

    /// <summary>Time allowed for one refresh call.</summary>
    public TimeSpan RefreshTimeout { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.refresh-timeout");

    /// <summary>Smallest delay before retrying a refresh that could not reach the server.</summary>
    public TimeSpan RetryMinBackoff { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.refresh-retry.min-backoff");

    /// <summary>Largest delay before retrying a refresh that could not reach the server.</summary>
    public TimeSpan RetryMaxBackoff { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.refresh-retry.max-backoff");

    /// <summary>
    /// While a failed refresh waits for its retry, a request that needs a token starts the retry at once when the
    /// last attempt failed at least this long ago: a recovered token endpoint serves the next request promptly.
    /// </summary>
    public TimeSpan RetryOnDemandAfter { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.refresh-retry.on-demand-after");

    /// <summary>Proactive refreshes (ahead of expiry) start no more often than this.</summary>
    public TimeSpan MinRefreshInterval { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.min-refresh-interval");

    /// <summary>A token lifetime shorter than this is treated as unknown for proactive refresh.</summary>
    public TimeSpan ProactiveRefreshFloor { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.token-lifetime.proactive-floor");

    /// <summary>The longest lifetime the realm believes; a longer one (from <c>expires_in</c> or <c>exp</c>) is clamped to it.</summary>
    public TimeSpan MaxTokenLifetime { get; init; } = Configuration.ReferenceDefaults.Duration("auth.realm-defaults.token-lifetime.max");

    /// <summary>
    /// Proactive refresh pauses once no request has used the realm's token for this long (null: never pauses); the
    /// next request then refreshes first if the token is stale.
    /// </summary>
    public TimeSpan? IdleRefreshAfter { get; init; }

    /// <summary>Token requests that may wait during a refresh.</summary>
    public int StashCapacity { get; init; } = Configuration.ReferenceDefaults.Int("auth.realm-defaults.stash-capacity");

    /// <summary>
    /// The realm's DPoP (RFC 9449) key (ES256) when <c>dpop.enabled</c>: tokens go as <c>Authorization: DPoP</c>
    /// with a fresh proof per attempt, signed with it; null for bearer tokens.
    /// </summary>
    internal ECDsa? DPoPKey { get; init; }

    /// <summary>Whether <see cref="DPoPKey"/> was made for this process because <c>dpop.key</c> is empty.</summary>
    internal bool DPoPKeyGenerated { get; init; }

    /// <summary>The refresh endpoint (strategy endpoint).</summary>
    public EndpointRefreshSettings Endpoint { get; init; } = new();

    /// <summary>The OAuth settings (strategies oauth-*).</summary>
    public OAuthSettings OAuth { get; init; } = new();

    /// <summary>"memory" or "file".</summary>
    public string StoreType { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.store.type");

    /// <summary>The directory of the file store.</summary>
    public string StorePath { get; init; } = string.Empty;

    /// <summary>How long before <paramref name="expiresAt"/> a token obtained at <paramref name="now"/> is refreshed.</summary>
    public TimeSpan SkewFor(DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var lifetime = expiresAt - now;
        if (lifetime <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var ratio = TimeSpan.FromTicks((long)(lifetime.Ticks * RefreshSkewRatio));
        return ratio < RefreshSkew ? ratio : RefreshSkew;
    }

    internal static RealmSettings Create(string name, Config auth, IReadOnlyDictionary<string, ClientSettings> clients,
        bool hasDelegate)
    {
        var defaults = auth.GetConfig("realm-defaults") ?? Config.Empty;
        var own = auth.GetConfig($"realms.\"{name}\"") ?? Config.Empty;
        var c = own.WithFallback(defaults);
        var prefix = $"netactors.auth.realms.{name}.";
        var r = new HoconReader(c, prefix);

        var strategyText = r.String("strategy");
        var strategy = strategyText switch
        {
            "none" or "" => RefreshStrategy.None,
            "endpoint" => RefreshStrategy.Endpoint,
            "oauth-refresh-token" => RefreshStrategy.OAuthRefreshToken,
            "oauth-client-credentials" => RefreshStrategy.OAuthClientCredentials,
            "delegate" => RefreshStrategy.Delegate,
            _ => throw r.Invalid("strategy",
                $"'{strategyText}' is not one of none, endpoint, oauth-refresh-token, oauth-client-credentials, delegate."),
        };
        if (strategy == RefreshStrategy.Delegate && !hasDelegate)
        {
            throw r.Invalid("strategy", "is 'delegate' but no refresher delegate was registered (WithRefresher in C#).");
        }

        var users = clients.Values.Where(cl => cl.AuthRealm == name).OrderBy(cl => cl.Name, StringComparer.Ordinal).ToList();
        var origins = new HashSet<string>(StringComparer.Ordinal);
        foreach (var client in users)
        {
            if (client.BaseOrigin is { } o)
            {
                origins.Add(o);
            }
        }

        foreach (var text in r.StringList("origins"))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw r.Invalid("origins", $"'{text}' is not an absolute http(s) origin.");
            }

            origins.Add(Configuration.Origins.KeyOf(uri));
        }

        var tokenClient = r.String("token-client");
        if (string.IsNullOrEmpty(tokenClient))
        {
            tokenClient = users.FirstOrDefault()?.Name ?? string.Empty;
        }
        else if (!clients.ContainsKey(tokenClient))
        {
            throw r.Invalid("token-client", $"no client named '{tokenClient}' is configured.");
        }

        var endpoint = EndpointRefreshSettings.Create(c.GetConfig("endpoint") ?? Config.Empty, prefix + "endpoint.");
        var oauth = OAuthSettings.Create(c.GetConfig("oauth") ?? Config.Empty, prefix + "oauth.");
        var needsClient = strategy is RefreshStrategy.Endpoint or RefreshStrategy.OAuthRefreshToken or RefreshStrategy.OAuthClientCredentials;
        if (needsClient && string.IsNullOrEmpty(tokenClient))
        {
            throw r.Invalid("token-client", "no client uses this realm, so refresh calls have no client to go through; set token-client.");
        }

        switch (strategy)
        {
            case RefreshStrategy.Endpoint when string.IsNullOrWhiteSpace(endpoint.Path):
                throw r.Invalid("endpoint.path", "is required when strategy = endpoint.");
            case RefreshStrategy.OAuthRefreshToken or RefreshStrategy.OAuthClientCredentials when string.IsNullOrWhiteSpace(oauth.TokenEndpoint):
                throw r.Invalid("oauth.token-endpoint", $"is required when strategy = {strategyText}.");
            case RefreshStrategy.OAuthClientCredentials when string.IsNullOrWhiteSpace(oauth.ClientId):
                throw r.Invalid("oauth.client-id", $"is required when strategy = {strategyText}.");
            case RefreshStrategy.OAuthClientCredentials when string.IsNullOrWhiteSpace(oauth.ClientSecret):
                throw r.Invalid("oauth.client-secret", "is required when strategy = oauth-client-credentials.");
        }

        var storeType = r.String("store.type");
        if (storeType is not ("memory" or "file"))
        {
            throw r.Invalid("store.type", $"'{storeType}' is not memory or file.");
        }

        var storePath = r.String("store.path");
        if (storeType == "file" && string.IsNullOrWhiteSpace(storePath))
        {
            throw r.Invalid("store.path", "is required when store.type = file.");
        }

        var min = r.Duration("refresh-retry.min-backoff");
        var max = r.Duration("refresh-retry.max-backoff");
        if (max < min)
        {
            throw r.Invalid("refresh-retry.max-backoff", $"{max} is shorter than min-backoff ({min}).");
        }

        var floor = r.Duration("token-lifetime.proactive-floor", allowZero: true);
        var maxLifetime = r.Duration("token-lifetime.max");
        if (maxLifetime > MaxPlausibleLifetime)
        {
            throw r.Invalid("token-lifetime.max", $"must be at most {MaxPlausibleLifetime.TotalDays:0} days.");
        }

        if (floor >= maxLifetime)
        {
            throw r.Invalid("token-lifetime.proactive-floor", $"{floor} is not shorter than token-lifetime.max ({maxLifetime}).");
        }

        ECDsa? dpop = null;
        if (r.Bool("dpop.enabled"))
        {
            var keyText = r.String("dpop.key");
            try
            {
                dpop = string.IsNullOrWhiteSpace(keyText) ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : ReadDPoPKey(keyText);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                throw r.Invalid("dpop.key", "is not an ECDsa P-256 private key (PEM, or base64 PKCS#8).");
            }
        }

        var idleText = r.String("idle-refresh-after");
        var idle = idleText is "" or "off" or "never" ? (TimeSpan?)null : r.Duration("idle-refresh-after");

        return new RealmSettings
        {
            Name = name,
            Strategy = strategy,
            Origins = origins,
            TokenClient = tokenClient,
            RefreshSkew = r.Duration("refresh-skew", allowZero: true),
            RefreshSkewRatio = r.Double("refresh-skew-ratio", 0, 0.9),
            RefreshTimeout = RefreshTimeoutOf(r),
            RetryMinBackoff = min,
            RetryMaxBackoff = max,
            RetryOnDemandAfter = r.Duration("refresh-retry.on-demand-after", allowZero: true),
            MinRefreshInterval = r.Duration("min-refresh-interval", allowZero: true),
            ProactiveRefreshFloor = floor,
            MaxTokenLifetime = maxLifetime,
            IdleRefreshAfter = idle,
            DPoPKey = dpop,
            DPoPKeyGenerated = dpop is not null && string.IsNullOrWhiteSpace(r.String("dpop.key")),
            StashCapacity = r.Int("stash-capacity", 1, 10_000_000),
            Endpoint = endpoint,
            OAuth = oauth,
            StoreType = storeType,
            StorePath = storePath,
        };
    }

    /// <summary>refresh-timeout, at most what a request's timeout can be (each refresh call is a request with it).</summary>
    private static TimeSpan RefreshTimeoutOf(HoconReader r)
    {
        var timeout = r.Duration("refresh-timeout");
        return timeout <= NetRequest.MaxTimeout
            ? timeout
            : throw r.Invalid("refresh-timeout", $"{timeout} is longer than a request's timeout can be ({NetRequest.MaxTimeout.TotalDays:0.#} days).");
    }

    /// <summary>
    /// Whether <paramref name="key"/> is on P-256, the curve of ES256. Its size alone does not say so: a secp256k1 key
    /// is 256 bits too, and its proofs would claim a P-256 public key that is not one. A key given by explicit curve
    /// parameters (no name, no OID) or one whose parameters cannot be read is not taken for P-256: the caller gets its
    /// clear error, not a <see cref="NullReferenceException"/>. Windows may name the OID without its value.
    /// </summary>
    internal static bool IsP256(ECDsa key)
    {
        ECCurve curve;
        try
        {
            curve = key.ExportParameters(false).Curve;
        }
        catch (CryptographicException)
        {
            return false;
        }

        return curve.IsNamed && curve.Oid is { } oid &&
               (oid.Value == "1.2.840.10045.3.1.7" || oid.FriendlyName is "nistP256" or "ECDSA_P256");
    }

    /// <summary>The key in <paramref name="text"/>: PEM (<c>-----BEGIN EC PRIVATE KEY-----</c> or PKCS#8), or base64 PKCS#8.</summary>
    private static ECDsa ReadDPoPKey(string text)
    {
        var key = ECDsa.Create();
        try
        {
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                key.ImportFromPem(text);
            }
            else
            {
                key.ImportPkcs8PrivateKey(Convert.FromBase64String(text.Trim()), out _);
            }

            return IsP256(key) ? key : throw new ArgumentException("not a P-256 key.", nameof(text));
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }
}

/// <summary>A refresh endpoint of the API (strategy <c>endpoint</c>).</summary>
public sealed record EndpointRefreshSettings
{
    /// <summary>Path relative to the token client's base address, or an absolute URL.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>The HTTP method.</summary>
    public string Method { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.endpoint.method");

    /// <summary>True for a form body, false for JSON.</summary>
    public bool FormBody { get; init; }

    /// <summary>Body fields; <c>{refresh_token}</c> and <c>{access_token}</c> are replaced.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Body { get; init; } =
        Configuration.ReferenceDefaults.Fields("auth.realm-defaults.endpoint.body");

    /// <summary>The form of a successful answer (<c>response-format</c>).</summary>
    public TokenAnswerFormat AnswerFormat { get; init; } =
        Enum.Parse<TokenAnswerFormat>(Configuration.ReferenceDefaults.String("auth.realm-defaults.endpoint.response-format"), ignoreCase: true);

    /// <summary>Dotted JSON path of the access token in the response.</summary>
    public string AccessTokenPath { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.endpoint.access-token-path");

    /// <summary>Dotted JSON path of the refresh token in the response.</summary>
    public string RefreshTokenPath { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.endpoint.refresh-token-path");

    /// <summary>Dotted JSON path of the lifetime in seconds in the response.</summary>
    public string ExpiresInPath { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.endpoint.expires-in-path");

    internal static EndpointRefreshSettings Create(Config c, string prefix)
    {
        var r = new HoconReader(c, prefix);
        var format = r.String("body-format");
        if (format is not ("json" or "form"))
        {
            throw r.Invalid("body-format", $"'{format}' is not json or form.");
        }

        var answer = r.String("response-format") switch
        {
            "json" => TokenAnswerFormat.Json,
            "form" => TokenAnswerFormat.Form,
            "text" => TokenAnswerFormat.Text,
            var other => throw r.Invalid("response-format", $"'{other}' is not json, form or text."),
        };

        var method = r.String("method").ToUpperInvariant();
        if (method is not ("POST" or "PUT" or "GET" or "PATCH"))
        {
            throw r.Invalid("method", $"'{method}' is not POST, PUT, PATCH or GET.");
        }

        var body = new List<KeyValuePair<string, string>>();
        var section = c.GetConfig("body");
        if (section is not null && !section.IsEmpty)
        {
            foreach (var (key, value) in section.Root.GetObject().Items)
            {
                body.Add(new(key, value.GetString() ?? string.Empty));
            }
        }

        return new EndpointRefreshSettings
        {
            Path = r.String("path"),
            Method = method,
            FormBody = format == "form",
            AnswerFormat = answer,
            Body = body,
            AccessTokenPath = r.String("access-token-path"),
            RefreshTokenPath = r.String("refresh-token-path"),
            ExpiresInPath = r.String("expires-in-path"),
        };
    }
}

/// <summary>OAuth 2.0 client settings (strategies <c>oauth-refresh-token</c>, <c>oauth-client-credentials</c>).</summary>
public sealed record OAuthSettings
{
    /// <summary>The token endpoint: absolute URL, or a path relative to the token client's base address.</summary>
    public string TokenEndpoint { get; init; } = string.Empty;

    /// <summary>The client id.</summary>
    public string ClientId { get; init; } = string.Empty;

    /// <summary>The client secret (never logged).</summary>
    public string ClientSecret { get; init; } = string.Empty;

    /// <summary>The scope to request, or empty.</summary>
    public string Scope { get; init; } = string.Empty;

    /// <summary>True for HTTP Basic client authentication, false for credentials in the form body.</summary>
    public bool BasicAuthentication { get; init; } = Configuration.ReferenceDefaults.String("auth.realm-defaults.oauth.client-authentication") == "basic";

    /// <summary>Hides the secret.</summary>
    public override string ToString() =>
        $"OAuthSettings {{ TokenEndpoint = {TokenEndpoint}, ClientId = {ClientId}, ClientSecret = ***, Scope = {Scope} }}";

    internal static OAuthSettings Create(Config c, string prefix)
    {
        var r = new HoconReader(c, prefix);
        var auth = r.String("client-authentication");
        if (auth is not ("basic" or "post"))
        {
            throw r.Invalid("client-authentication", $"'{auth}' is not basic or post.");
        }

        return new OAuthSettings
        {
            TokenEndpoint = r.String("token-endpoint"),
            ClientId = r.String("client-id"),
            ClientSecret = r.String("client-secret"),
            Scope = r.String("scope"),
            BasicAuthentication = auth == "basic",
        };
    }
}
