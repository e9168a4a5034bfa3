using NetActors.Configuration;

namespace NetActors.Hosting;

/// <summary>
/// Sets a named client's settings from C#. Each call writes the HOCON key it names (shown in its docs), so
/// validation and error messages are the same whichever way a setting is given. Values are checked when the
/// host starts, not here.
/// </summary>
public sealed class ClientBuilder
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _headers = new(StringComparer.OrdinalIgnoreCase);

    internal ClientBuilder(string name, NetActorsBuilder owner)
    {
        Name = name;
        _owner = owner;
    }

    private readonly NetActorsBuilder _owner;

    internal Resilience.ClientHooks Hooks { get; } = new();

    /// <summary>The client's name.</summary>
    public string Name { get; }

    /// <summary><c>base-address</c>: the absolute address relative URLs resolve against.</summary>
    /// <param name="baseAddress">An absolute http(s) address.</param>
    public ClientBuilder WithBaseAddress(string baseAddress) => Set("base-address", HoconText.Quote(baseAddress));

    /// <summary><c>base-address</c>: the absolute address relative URLs resolve against.</summary>
    /// <param name="baseAddress">An absolute http(s) address.</param>
    public ClientBuilder WithBaseAddress(Uri baseAddress) => WithBaseAddress(baseAddress.ToString());

    /// <summary><c>max-connections</c>: most requests in flight at once to one origin.</summary>
    /// <param name="maxConnections">At least 1.</param>
    public ClientBuilder WithMaxConnections(int maxConnections) => Set("max-connections", HoconText.Number(maxConnections));

    /// <summary><c>queue-capacity</c>: how many requests may wait per origin.</summary>
    /// <param name="capacity">0 or more.</param>
    public ClientBuilder WithQueueCapacity(int capacity) => Set("queue-capacity", HoconText.Number(capacity));

    /// <summary><c>connect-timeout</c>: time allowed to open a connection.</summary>
    /// <param name="timeout">Greater than zero.</param>
    public ClientBuilder WithConnectTimeout(TimeSpan timeout) => Set("connect-timeout", HoconText.Duration(timeout));

    /// <summary><c>response-timeout</c>: time allowed for one attempt.</summary>
    /// <param name="timeout">Greater than zero and not above the total timeout.</param>
    public ClientBuilder WithResponseTimeout(TimeSpan timeout) => Set("response-timeout", HoconText.Duration(timeout));

    /// <summary><c>total-timeout</c>: time allowed for the whole request.</summary>
    /// <param name="timeout">Greater than zero.</param>
    public ClientBuilder WithTotalTimeout(TimeSpan timeout) => Set("total-timeout", HoconText.Duration(timeout));

    /// <summary><c>max-response-size</c>: largest body accepted, in bytes.</summary>
    /// <param name="bytes">At least 1.</param>
    public ClientBuilder WithMaxResponseSize(long bytes) => Set("max-response-size", HoconText.Number(bytes));

    /// <summary><c>max-redirects</c>: redirects followed per request (0: none).</summary>
    /// <param name="redirects">0 to 50.</param>
    public ClientBuilder WithMaxRedirects(int redirects) => Set("max-redirects", HoconText.Number(redirects));

    /// <summary><c>pooled-connection-lifetime</c>: how long a connection is reused.</summary>
    /// <param name="lifetime">Greater than zero.</param>
    public ClientBuilder WithPooledConnectionLifetime(TimeSpan lifetime) =>
        Set("pooled-connection-lifetime", HoconText.Duration(lifetime));

    /// <summary><c>app-version</c>: the X-App-Version header value.</summary>
    /// <param name="version">The version text.</param>
    public ClientBuilder WithAppVersion(string version) => Set("app-version", HoconText.Quote(version));

    /// <summary><c>platform</c>: the X-Platform header value.</summary>
    /// <param name="platform">The platform text.</param>
    public ClientBuilder WithPlatform(string platform) => Set("platform", HoconText.Quote(platform));

    /// <summary><c>send-app-headers</c>: whether X-App-Version and X-Platform are sent.</summary>
    /// <param name="send">True to send them.</param>
    public ClientBuilder WithAppHeaders(bool send) => Set("send-app-headers", HoconText.Bool(send));

    /// <summary><c>headers.&lt;name&gt;</c>: a header sent with every request of the client.</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The header value.</param>
    public ClientBuilder WithHeader(string name, string value)
    {
        _headers[name] = value;
        return this;
    }

    /// <summary>
    /// Bearer authentication in a realm of this client's own, <b>named after the client</b>: <c>auth-realm</c> is set
    /// to the client's name and <paramref name="configure"/> configures <c>netactors.auth.realms.&lt;client&gt;</c>.
    /// <c>SignInAsync</c> and <c>TerminateSessionAsync</c> take that name (for <c>AddClient("api", c =&gt;
    /// c.WithBearerAuth(...))</c>, the realm is <c>"api"</c>). To name the realm yourself, use
    /// <see cref="WithBearerAuth(string, Action{AuthRealmBuilder})"/>.
    /// </summary>
    /// <param name="configure">Configures the realm (refresh strategy, store, callbacks).</param>
    public ClientBuilder WithBearerAuth(Action<AuthRealmBuilder>? configure = null) => WithBearerAuth(Name, configure);

    /// <summary>
    /// Bearer authentication in the realm <paramref name="realm"/> (created here if no other client or
    /// <c>AddAuthRealm</c> configures it; configured further otherwise): <c>auth-realm</c> is set to it, and it is the
    /// name <c>SignInAsync</c> and <c>TerminateSessionAsync</c> take.
    /// </summary>
    /// <param name="realm">The realm's name.</param>
    /// <param name="configure">Configures the realm (refresh strategy, store, callbacks).</param>
    public ClientBuilder WithBearerAuth(string realm, Action<AuthRealmBuilder>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(realm);
        _owner.AddAuthRealm(realm, configure);
        return WithAuthRealm(realm);
    }

    /// <summary><c>auth-realm</c>: the client's requests carry the bearer token of this (shared) realm.</summary>
    /// <param name="realm">A realm added with <see cref="NetActorsBuilder.AddAuthRealm"/> or in HOCON.</param>
    public ClientBuilder WithAuthRealm(string realm) => Set("auth-realm", HoconText.Quote(realm));

    /// <summary><c>retry.max-attempts</c>: attempts in all, the first included (1 disables retries).</summary>
    /// <param name="maxAttempts">1 to 100.</param>
    public ClientBuilder WithMaxAttempts(int maxAttempts) => Set("retry.max-attempts", HoconText.Number(maxAttempts));

    /// <summary><c>retry.base-delay</c> and <c>retry.max-delay</c>: the backoff range.</summary>
    /// <param name="baseDelay">The first retry's delay.</param>
    /// <param name="maxDelay">The largest delay.</param>
    public ClientBuilder WithRetryDelays(TimeSpan baseDelay, TimeSpan maxDelay) =>
        Set("retry.base-delay", HoconText.Duration(baseDelay)).Set("retry.max-delay", HoconText.Duration(maxDelay));

    /// <summary><c>retry.idempotency-keys</c>: generate an idempotency key for POST and PATCH (makes them retryable).</summary>
    /// <param name="generate">True to generate keys.</param>
    public ClientBuilder WithIdempotencyKeys(bool generate = true) => Set("retry.idempotency-keys", HoconText.Bool(generate));

    /// <summary>
    /// Replaces the retry classifier: which failures are transient. It is called on the origin's actor, so it must
    /// return at once (no I/O, no locks, no waiting): while it runs, the origin's other requests wait. One that takes
    /// longer than 50 ms is logged as a warning.
    /// </summary>
    /// <param name="isTransient">True for failures worth retrying; see <see cref="Resilience.RetryClassifier.IsTransient"/>.</param>
    public ClientBuilder WithRetryClassifier(Func<Errors.NetException, bool> isTransient)
    {
        Hooks.IsTransient = isTransient ?? throw new ArgumentNullException(nameof(isTransient));
        return this;
    }

    /// <summary><c>rate-limit.*</c>: the origin's rate (a token bucket).</summary>
    /// <param name="permitsPerSecond">Requests per second; 0 disables.</param>
    /// <param name="burst">Permits usable at once (0: a tenth of a second's worth, at least 1).</param>
    public ClientBuilder WithRateLimit(double permitsPerSecond, int burst = 0) =>
        Set("rate-limit.permits-per-second", HoconText.Number(permitsPerSecond)).Set("rate-limit.burst", HoconText.Number(burst));

    /// <summary><c>circuit-breaker.*</c>: the origin's circuit breaker.</summary>
    /// <param name="failureRatio">Failure ratio that opens it.</param>
    /// <param name="minimumThroughput">Attempts needed in the window.</param>
    /// <param name="samplingDuration">The window.</param>
    /// <param name="breakDuration">How long it stays open.</param>
    public ClientBuilder WithCircuitBreaker(double failureRatio, int minimumThroughput, TimeSpan samplingDuration,
        TimeSpan breakDuration) =>
        Set("circuit-breaker.enabled", "on")
            .Set("circuit-breaker.failure-ratio", HoconText.Number(failureRatio))
            .Set("circuit-breaker.minimum-throughput", HoconText.Number(minimumThroughput))
            .Set("circuit-breaker.sampling-duration", HoconText.Duration(samplingDuration))
            .Set("circuit-breaker.break-duration", HoconText.Duration(breakDuration));

    /// <summary>
    /// <c>adaptive-concurrency.*</c>: the origin's concurrency limit adapts to the server's signals, between
    /// <paramref name="minLimit"/> and <paramref name="maxLimit"/> (0: <c>max-connections</c>, never above it).
    /// </summary>
    /// <param name="algorithm">Gradient (latency against its baseline, and drops) or AIMD (drops only).</param>
    /// <param name="minLimit">The lowest limit, at least 1.</param>
    /// <param name="maxLimit">The highest limit; 0 for <c>max-connections</c>.</param>
    /// <param name="initialLimit">The limit to start from; 0 for the smaller of 10 and the highest limit.</param>
    /// <param name="window">The sampling window; null keeps the configured one.</param>
    public ClientBuilder WithAdaptiveConcurrency(AdaptiveAlgorithm algorithm = AdaptiveAlgorithm.Gradient,
        int minLimit = 1, int maxLimit = 0, int initialLimit = 0, TimeSpan? window = null)
    {
        Set("adaptive-concurrency.enabled", "on")
            .Set("adaptive-concurrency.algorithm", algorithm == AdaptiveAlgorithm.Aimd ? "aimd" : "gradient")
            .Set("adaptive-concurrency.min-limit", HoconText.Number(minLimit))
            .Set("adaptive-concurrency.max-limit", HoconText.Number(maxLimit))
            .Set("adaptive-concurrency.initial-limit", HoconText.Number(initialLimit));
        return window is { } w ? Set("adaptive-concurrency.window", HoconText.Duration(w)) : this;
    }

    /// <summary>
    /// <c>adaptive-rate.*</c>: the origin's rate falls on a 429 (or a 503 with <c>Retry-After</c>) and rises after
    /// successes, between <paramref name="minRate"/> and <paramref name="maxRate"/>; it starts at
    /// <c>rate-limit.permits-per-second</c>, or at <paramref name="maxRate"/> when no rate is set.
    /// </summary>
    /// <param name="minRate">The lowest rate, in permits per second.</param>
    /// <param name="maxRate">The highest rate; 0 for <c>rate-limit.permits-per-second</c>.</param>
    /// <param name="window">The window (one decrease and one increase at most per window); null keeps the configured one.</param>
    public ClientBuilder WithAdaptiveRate(double minRate, double maxRate = 0, TimeSpan? window = null)
    {
        Set("adaptive-rate.enabled", "on")
            .Set("adaptive-rate.min-rate", HoconText.Number(minRate))
            .Set("adaptive-rate.max-rate", HoconText.Number(maxRate));
        return window is { } w ? Set("adaptive-rate.window", HoconText.Duration(w)) : this;
    }

    /// <summary><c>deduplicate</c>: whether identical concurrent GET/HEAD requests share one wire request.</summary>
    /// <param name="deduplicate">True to share.</param>
    public ClientBuilder WithDeduplication(bool deduplicate) => Set("deduplicate", HoconText.Bool(deduplicate));

    /// <summary>Adds an interceptor; interceptors run in the order they are added.</summary>
    /// <param name="interceptor">The interceptor.</param>
    public ClientBuilder AddInterceptor(Resilience.NetInterceptor interceptor)
    {
        Hooks.Interceptors.Add(interceptor ?? throw new ArgumentNullException(nameof(interceptor)));
        return this;
    }

    /// <summary>
    /// <c>cache.*</c>: turns on the client's private HTTP cache (GET and HEAD, RFC 9111 freshness and
    /// validators, bounded by <paramref name="maxBytes"/>, least recently used evicted).
    /// </summary>
    /// <param name="maxBytes">Most bytes held; 0 keeps the configured value. Below the default entry limit (4 MiB) it
    /// is the entry limit too, so a small cache still starts (set <c>cache.max-entry-bytes</c> for a smaller one).</param>
    /// <param name="staleIfError">How long past freshness an entry may be served, marked stale, when the origin cannot be reached; null keeps the configured value.</param>
    public ClientBuilder WithCache(long maxBytes = 0, TimeSpan? staleIfError = null)
    {
        Set("cache.enabled", "on");
        if (maxBytes > 0)
        {
            Set("cache.max-bytes", HoconText.Number(maxBytes));
            if (maxBytes < DefaultMaxEntryBytes)
            {
                Set("cache.max-entry-bytes", HoconText.Number(maxBytes));
            }
        }

        return staleIfError is { } stale ? Set("cache.stale-if-error", HoconText.Duration(stale)) : this;
    }

    private const long DefaultMaxEntryBytes = 4 * 1024 * 1024;

    /// <summary>
    /// <c>cache.path-ttls</c>: responses for paths matching <paramref name="pathPattern"/> (<c>*</c> matches
    /// anything) are fresh for <paramref name="ttl"/>, whatever they say (<c>no-store</c> still wins). For
    /// reference data.
    /// </summary>
    /// <param name="pathPattern">A path pattern starting with '/', for example <c>/reference/*</c>.</param>
    /// <param name="ttl">How long matching responses are fresh.</param>
    public ClientBuilder WithCacheTtl(string pathPattern, TimeSpan ttl) =>
        Set($"cache.path-ttls.{HoconText.Quote(pathPattern)}", HoconText.Duration(ttl));

    /// <summary>
    /// Replaces the client's <c>json.*</c> settings with <paramref name="options"/> (naming policy, converters, a
    /// source-generated context as <see cref="System.Text.Json.JsonSerializerOptions.TypeInfoResolver"/>, …).
    /// </summary>
    /// <param name="options">The options; made read-only.</param>
    public ClientBuilder WithJson(System.Text.Json.JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.MakeReadOnly(populateMissingResolver: true);
        Hooks.Json = options;
        return this;
    }

    /// <summary>Uses a source-generated System.Text.Json context (and its options) for the client's JSON.</summary>
    /// <param name="context">The generated context.</param>
    public ClientBuilder WithJson(System.Text.Json.Serialization.JsonSerializerContext context) =>
        WithJson((context ?? throw new ArgumentNullException(nameof(context))).Options);

    /// <summary>
    /// Masks the values of further query and path parameters (and headers) in this client's log lines and
    /// exception messages, on top of the built-in lists and <c>netactors.logging</c>'s
    /// (<c>logging.redacted-query-parameters</c>, <c>logging.redacted-headers</c>).
    /// </summary>
    /// <param name="queryParameters">Parameter names, matched without case and after percent-decoding.</param>
    /// <param name="headers">Header names.</param>
    public ClientBuilder WithRedaction(IEnumerable<string> queryParameters, IEnumerable<string>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(queryParameters);
        Set("logging.redacted-query-parameters", HoconText.List(queryParameters));
        return headers is null ? this : Set("logging.redacted-headers", HoconText.List(headers));
    }

    /// <summary>Sets any key of the client's HOCON section to a raw HOCON value.</summary>
    /// <param name="key">The key under <c>netactors.clients.&lt;name&gt;</c>, for example <c>max-connections</c>.</param>
    /// <param name="hoconValue">The value as HOCON text, for example <c>6</c> or <c>"text"</c>.</param>
    public ClientBuilder Set(string key, string hoconValue)
    {
        _values[key] = hoconValue;
        return this;
    }

    internal string ToHocon()
    {
        var lines = _values.Select(kv => $"  {kv.Key} = {kv.Value}").ToList();
        if (_headers.Count > 0)
        {
            lines.Add("  headers {");
            lines.AddRange(_headers.Select(h => $"    {HoconText.Quote(h.Key)} = {HoconText.Quote(h.Value)}"));
            lines.Add("  }");
        }

        return $"netactors.clients.{HoconText.Quote(Name)} {{\n{string.Join("\n", lines)}\n}}\n";
    }
}
