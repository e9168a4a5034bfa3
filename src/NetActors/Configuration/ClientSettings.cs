using System.Reflection;
using System.Runtime.InteropServices;
using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>
/// The typed, validated settings of one named client, read from <c>netactors.clients.&lt;name&gt;</c> with
/// <c>netactors.client-defaults</c> as fallback. Immutable; use <c>with</c> expressions for copies.
/// </summary>
public sealed record ClientSettings
{
    /// <summary>The client's name, as used in <see cref="NetRequest.Client"/>.</summary>
    public required string Name { get; init; }

    /// <summary>Absolute address relative request URLs are resolved against, or null.</summary>
    public Uri? BaseAddress
    {
        get;
        init
        {
            field = value;
            BaseOrigin = value is null ? null : Origins.KeyOf(value);
        }
    }

    /// <summary>Most requests in flight at once to one origin.</summary>
    public int MaxConnections { get; init; } = ReferenceDefaults.Int("client-defaults.max-connections");

    /// <summary>How many requests may wait for a slot per origin before new ones are rejected.</summary>
    public int QueueCapacity { get; init; } = ReferenceDefaults.Int("client-defaults.queue-capacity");

    /// <summary>Time allowed to open a connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = ReferenceDefaults.Duration("client-defaults.connect-timeout");

    /// <summary>Time allowed for one attempt, from sending to the end of the response body.</summary>
    public TimeSpan ResponseTimeout { get; init; } = ReferenceDefaults.Duration("client-defaults.response-timeout");

    /// <summary>Time allowed for the whole request, queue wait and retries included.</summary>
    public TimeSpan TotalTimeout { get; init; } = ReferenceDefaults.Duration("client-defaults.total-timeout");

    /// <summary>
    /// The longest pause a <c>Retry-After</c> (on a 429 or 503) may put on an origin; a longer one is cut to this,
    /// so that no value a server sends can disable an origin for everyone.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; init; } = ReferenceDefaults.Duration("client-defaults.max-retry-after");

    /// <summary>
    /// How long an origin that no client declares (reached by an absolute URL or a redirect) is kept without
    /// requests before its host actor, connection pool, settings and gauge series are removed.
    /// </summary>
    public TimeSpan IdleOriginTimeout { get; init; } = ReferenceDefaults.Duration("client-defaults.idle-origin-timeout");

    /// <summary>Largest response body accepted, in bytes.</summary>
    public long MaxResponseSize { get; init; } = ReferenceDefaults.Size("client-defaults.max-response-size");

    /// <summary>Redirects followed per request; 0 disables following.</summary>
    public int MaxRedirects { get; init; } = ReferenceDefaults.Int("client-defaults.max-redirects");

    /// <summary>How long a pooled connection is reused before it is replaced.</summary>
    public TimeSpan PooledConnectionLifetime { get; init; } = ReferenceDefaults.Duration("client-defaults.pooled-connection-lifetime");

    /// <summary>How long an idle pooled connection is kept.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = ReferenceDefaults.Duration("client-defaults.pooled-connection-idle-timeout");

    /// <summary>Headers sent with every request of this client, the app headers included.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> DefaultHeaders { get; init; } = [];

    /// <summary>Retry policy.</summary>
    public RetrySettings Retry { get; init; } = new();

    /// <summary>Whether identical overlapping GET/HEAD requests share one wire request.</summary>
    public bool Deduplicate { get; init; } = ReferenceDefaults.Bool("client-defaults.deduplicate");

    /// <summary>The origin's rate limit (from the client that declares the origin).</summary>
    public RateLimitSettings RateLimit { get; init; } = new();

    /// <summary>The origin's circuit breaker (from the client that declares the origin).</summary>
    public CircuitBreakerSettings CircuitBreaker { get; init; } = new();

    /// <summary>The origin's adaptive concurrency limit, within <see cref="MaxConnections"/> (from the client that declares the origin).</summary>
    public AdaptiveConcurrencySettings AdaptiveConcurrency { get; init; } = new();

    /// <summary>The origin's adaptive rate, adjusting <see cref="RateLimit"/> (from the client that declares the origin).</summary>
    public AdaptiveRateSettings AdaptiveRate { get; init; } = new();

    /// <summary>The auth realm whose token this client's requests carry, or null.</summary>
    public string? AuthRealm { get; init; }

    /// <summary>The client's private HTTP cache.</summary>
    public CacheSettings Cache { get; init; } = new();

    /// <summary>How the client reads and writes JSON.</summary>
    public JsonSettings Json { get; init; } = new();

    /// <summary>
    /// What this client's log lines and exception messages mask: the built-in lists, the runtime's
    /// <c>netactors.logging</c> lists and the client's own <c>logging</c> lists.
    /// </summary>
    public RedactionSettings Redaction { get; init; } = RedactionSettings.Default;

    /// <summary>The origin key (<c>scheme://host:port</c>) of <see cref="BaseAddress"/>, or null.</summary>
    /// <remarks>Computed once, when <see cref="BaseAddress"/> is set: every relative request reads it.</remarks>
    public string? BaseOrigin { get; private init; }

    /// <summary>
    /// Reads and validates the client named <paramref name="name"/> from the <c>netactors</c> section.
    /// </summary>
    /// <param name="name">The client's name.</param>
    /// <param name="netactors">The <c>netactors</c> configuration section, reference defaults included.</param>
    /// <exception cref="NetActorsConfigurationException">A setting is missing or impossible.</exception>
    public static ClientSettings Create(string name, Config netactors)
    {
        var defaults = netactors.GetConfig("client-defaults") ?? Config.Empty;
        var own = netactors.GetConfig($"clients.{Quote(name)}") ?? Config.Empty;
        var c = own.WithFallback(defaults);
        var prefix = $"netactors.clients.{name}.";
        var r = new HoconReader(c, prefix);

        var baseText = r.String("base-address");
        Uri? baseAddress = null;
        if (!string.IsNullOrWhiteSpace(baseText))
        {
            if (!Uri.TryCreate(baseText, UriKind.Absolute, out baseAddress) ||
                (baseAddress.Scheme != Uri.UriSchemeHttp && baseAddress.Scheme != Uri.UriSchemeHttps))
            {
                throw new NetActorsConfigurationException(prefix + "base-address",
                    $"'{baseText}' is not an absolute http:// or https:// address.");
            }

            if (!string.IsNullOrEmpty(baseAddress.Query) || !string.IsNullOrEmpty(baseAddress.Fragment) ||
                !string.IsNullOrEmpty(baseAddress.UserInfo))
            {
                throw new NetActorsConfigurationException(prefix + "base-address",
                    "must not carry a query, a fragment or user info (put credentials in an auth realm).");
            }
        }

        var settings = new ClientSettings
        {
            Name = name,
            BaseAddress = baseAddress,
            MaxConnections = r.Int("max-connections", min: 1, max: 10_000),
            QueueCapacity = r.Int("queue-capacity", min: 0, max: 10_000_000),
            ConnectTimeout = r.Duration("connect-timeout"),
            ResponseTimeout = r.Duration("response-timeout"),
            TotalTimeout = r.Duration("total-timeout"),
            MaxResponseSize = r.ByteSize("max-response-size", min: 1),
            MaxRetryAfter = r.Duration("max-retry-after"),
            IdleOriginTimeout = r.Duration("idle-origin-timeout"),
            MaxRedirects = r.Int("max-redirects", min: 0, max: 50),
            PooledConnectionLifetime = r.Duration("pooled-connection-lifetime"),
            PooledConnectionIdleTimeout = r.Duration("pooled-connection-idle-timeout"),
            DefaultHeaders = ReadHeaders(c, prefix, r),
            AuthRealm = r.String("auth-realm") is { Length: > 0 } realm ? realm : null,
            Retry = RetrySettings.Create(r),
            Deduplicate = r.Bool("deduplicate"),
            RateLimit = RateLimitSettings.Create(r),
            CircuitBreaker = CircuitBreakerSettings.Create(r),
            AdaptiveConcurrency = AdaptiveConcurrencySettings.Create(r, r.Int("max-connections", min: 1, max: 10_000)),
            AdaptiveRate = AdaptiveRateSettings.Create(r, r.Double("rate-limit.permits-per-second", 0, 1_000_000)),
            Cache = CacheSettings.Create(r, c),
            Json = JsonSettings.Create(r),
            Redaction = RedactionSettings.Create(
                r.StringList("logging.redacted-query-parameters"), r.StringList("logging.redacted-headers")),
        };

        if (settings.Retry.MaxAttempts > 1 && settings.Retry.BaseDelay >= settings.TotalTimeout)
        {
            throw new NetActorsConfigurationException(prefix + "retry.base-delay",
                $"{settings.Retry.BaseDelay} leaves no room for a retry within total-timeout ({settings.TotalTimeout}).");
        }

        if (settings.Retry.MaxDelay < settings.Retry.BaseDelay)
        {
            throw new NetActorsConfigurationException(prefix + "retry.max-delay",
                $"{settings.Retry.MaxDelay} is shorter than retry.base-delay ({settings.Retry.BaseDelay}).");
        }

        if (HeaderRules.Check(settings.Retry.IdempotencyHeader, "x") is { } headerProblem)
        {
            throw new NetActorsConfigurationException(prefix + "retry.idempotency-header", headerProblem);
        }

        if (settings.TotalTimeout > NetRequest.MaxTimeout)
        {
            throw new NetActorsConfigurationException(prefix + "total-timeout",
                $"{settings.TotalTimeout} is longer than a timer can wait ({NetRequest.MaxTimeout.TotalDays:0.#} days).");
        }

        if (settings.IdleOriginTimeout <= TimeSpan.Zero)
        {
            throw new NetActorsConfigurationException(prefix + "idle-origin-timeout", "must be more than zero.");
        }

        if (settings.ResponseTimeout > settings.TotalTimeout)
        {
            throw new NetActorsConfigurationException(prefix + "response-timeout",
                $"{settings.ResponseTimeout} is longer than total-timeout ({settings.TotalTimeout}); " +
                "one attempt cannot take longer than the whole request.");
        }

        return settings;
    }

    private static IReadOnlyList<KeyValuePair<string, string>> ReadHeaders(Config c, string prefix, HoconReader r)
    {
        var headers = new List<KeyValuePair<string, string>>();
        if (r.Bool("send-app-headers"))
        {
            var version = r.String("app-version");
            headers.Add(new("X-App-Version", string.IsNullOrWhiteSpace(version) ? EntryAssemblyVersion() : version));
            var platform = r.String("platform");
            headers.Add(new("X-Platform", string.IsNullOrWhiteSpace(platform) ? DefaultPlatform() : platform));
        }

        var section = c.GetConfig("headers");
        if (section is not null && !section.IsEmpty)
        {
            foreach (var (key, value) in section.Root.GetObject().Items)
            {
                var headerValue = value.GetString() ?? string.Empty;
                var problem = HeaderRules.Check(key, headerValue);
                if (problem is not null)
                {
                    throw new NetActorsConfigurationException($"{prefix}headers.{key}", problem);
                }

                headers.RemoveAll(h => string.Equals(h.Key, key, StringComparison.OrdinalIgnoreCase));
                headers.Add(new(key, headerValue));
            }
        }

        return headers;
    }

    /// <summary>The entry assembly's informational version, or its version, or "0.0.0".</summary>
    internal static string EntryAssemblyVersion()
    {
        var entry = Assembly.GetEntryAssembly();
        var informational = entry?.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (!string.IsNullOrWhiteSpace(informational))
        {
            // Drop the "+commit" suffix the SDK appends: it is noise for the backend.
            var plus = informational.IndexOf('+');
            return plus > 0 ? informational[..plus] : informational;
        }

        return entry?.GetName().Version?.ToString() ?? "0.0.0";
    }

    /// <summary>"&lt;os&gt;/&lt;arch&gt; .NET/&lt;version&gt;", for example "linux/x64 .NET/10.0.12".</summary>
    internal static string DefaultPlatform()
    {
        var os = OperatingSystem.IsWindows() ? "windows"
            : OperatingSystem.IsLinux() ? "linux"
            : OperatingSystem.IsMacOS() ? "macos"
            : "other";
        return $"{os}/{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()} .NET/{Environment.Version}";
    }

    private static string Quote(string name) => $"\"{name}\"";
}
