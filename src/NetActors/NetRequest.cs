namespace NetActors;

/// <summary>
/// A request message: which client sends it, the method, the URL (relative to the client's base address, or
/// absolute), headers and content. Immutable; the <c>With…</c> methods return copies. Send it through
/// <see cref="INetClient.SendAsync"/>, or Tell/Ask it to the gateway actor: either way it gets exactly one
/// outcome, a <see cref="NetResponse"/> or a <see cref="Errors.NetException"/>.
/// </summary>
/// <param name="Client">The name of a configured client (<c>netactors.clients.&lt;name&gt;</c>).</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Url">A URL relative to the client's base address, or an absolute http(s) URL.</param>
public sealed record NetRequest(string Client, HttpMethod Method, string Url)
{
    /// <summary>
    /// A request to an absolute http(s) <see cref="System.Uri"/>, sent as it is, its text not parsed again: build the
    /// Uri once and reuse it, as with <see cref="HttpClient.GetAsync(System.Uri)"/>. <see cref="Url"/> is its
    /// <see cref="System.Uri.OriginalString"/>; a relative Uri is resolved like a relative URL. A copy whose
    /// <see cref="Url"/> is changed with <c>with</c> forgets the Uri and uses the new text.
    /// </summary>
    /// <param name="client">The name of a configured client.</param>
    /// <param name="method">The HTTP method.</param>
    /// <param name="url">The target (null fails when the request is sent, as a null URL does).</param>
    public NetRequest(string client, HttpMethod method, Uri url)
        : this(client, method, url?.OriginalString!) =>
        _uri = new(url);

    // The Uri the request was built from, if any. Not part of the request's value: it only spares parsing Url.
    private readonly GivenUri _uri;

    /// <summary>The absolute Uri the request was built from, while <see cref="Url"/> is still its text; else null.</summary>
    internal Uri? GivenAbsoluteUri =>
        _uri.Uri is { IsAbsoluteUri: true } uri && ReferenceEquals(uri.OriginalString, Url) ? uri : null;

    /// <summary>
    /// The request as a log line or a dead letter shows it: client, method and URL with user info and secret query
    /// values masked (the built-in names: a request does not know the names a client adds in its configuration),
    /// header names only, never a header's value, a body's content or the idempotency key.
    /// </summary>
    public override string ToString()
    {
        var url = Url is null ? "(none)" : RedactionSettings.Default.Url(Url);
        var headers = Headers is { Count: > 0 } h ? " [" + string.Join(", ", h.Select(p => p.Key is { Length: > 0 } k && k.All(IsTokenChar) ? k : "(invalid name)")) + "]" : string.Empty;
        return $"NetRequest {{ {Client} {Method?.Method ?? "(none)"} {url}{headers}{(Content is null ? string.Empty : " with a body")} }}";
    }

    // RFC 9110 token characters: a name with others is not shown (it may carry a value, "Authorization: Bearer ...").
    internal static bool IsTokenChar(char ch) =>
        ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' || "!#$%&'*+-.^_`|~".Contains(ch);

    /// <summary>Request headers, in order. The client's default headers are added before these.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The request body, or null.</summary>
    public NetContent? Content { get; init; }

    /// <summary>When true no credentials are attached, even for an origin of the client's auth realm.</summary>
    public bool Anonymous { get; init; }

    /// <summary>
    /// For a request a server named (a next page): the origin the caller's credentials were sent to, the first hop
    /// of the page that named it. On any other origin, no credential header goes along (the caller's or the client's).
    /// </summary>
    internal string? CredentialsOrigin { get; init; }

    /// <summary>Overrides the client's total timeout for this request.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>When true, an error status is returned as a <see cref="NetResponse"/> rather than thrown.</summary>
    public bool AllowErrorStatus { get; init; }

    /// <summary>
    /// The idempotency key: sent as the client's idempotency header (default <c>Idempotency-Key</c>) on every
    /// attempt, and what makes a POST or PATCH safe to retry.
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>When true this request never shares a wire request with identical concurrent ones.</summary>
    public bool NoDeduplication { get; init; }

    /// <summary>Set by <see cref="NetClientExtensions.DownloadAsync"/>: the body goes to a file, not to memory; null otherwise.</summary>
    public DownloadTarget? Download { get; internal init; }

    /// <summary>
    /// Telemetry: the creator's <see cref="System.Diagnostics.Activity.Current"/>, for a request told or asked to the
    /// gateway actor (an actor's mailbox does not carry the sender's trace); <see cref="INetClient.SendAsync"/> uses
    /// the caller's current activity instead.
    /// </summary>
    internal System.Diagnostics.Activity? Caller { get => _caller.Activity; init => _caller = new(value); }

    // Not part of the request's value: two requests that differ only in the trace they were built in are equal.
    private readonly AmbientActivity _caller = new(System.Diagnostics.Activity.Current);

    /// <summary>
    /// For <see cref="INetClient.SendStreamAsync"/>: the most bytes the streamed body may have. A read past it throws
    /// <see cref="Errors.ResponseTooLargeException"/> (a <c>Content-Length</c> above it fails the request before the
    /// caller has the response). Null: no limit. A buffered response is bounded by the client's
    /// <c>max-response-size</c> instead, whatever this says.
    /// </summary>
    public long? MaxStreamedBytes { get; init; }

    /// <summary>Receives the progress of sending the body, per attempt.</summary>
    public IProgress<TransferProgress>? UploadProgress { get; init; }

    /// <summary>A GET request.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    public static NetRequest Get(string client, string url) => new(client, HttpMethod.Get, url);

    /// <summary>A GET request to an absolute Uri, built once and reused (see <see cref="NetRequest(string, HttpMethod, System.Uri)"/>).</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">The target.</param>
    public static NetRequest Get(string client, Uri url) => new(client, HttpMethod.Get, url);

    /// <summary>A HEAD request.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    public static NetRequest Head(string client, string url) => new(client, HttpMethod.Head, url);

    /// <summary>A DELETE request.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    public static NetRequest Delete(string client, string url) => new(client, HttpMethod.Delete, url);

    /// <summary>A POST request with optional content.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="content">The body.</param>
    public static NetRequest Post(string client, string url, NetContent? content = null) =>
        new(client, HttpMethod.Post, url) { Content = content };

    /// <summary>A PUT request with optional content.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="content">The body.</param>
    public static NetRequest Put(string client, string url, NetContent? content = null) =>
        new(client, HttpMethod.Put, url) { Content = content };

    /// <summary>A PATCH request with optional content.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="content">The body.</param>
    public static NetRequest Patch(string client, string url, NetContent? content = null) =>
        new(client, HttpMethod.Patch, url) { Content = content };

    /// <summary>A copy with one more header. Validation happens when the request is sent.</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The header value.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="value"/> is null.</exception>
    public NetRequest WithHeader(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        return this with { Headers = [.. Headers, new KeyValuePair<string, string>(name, value)] };
    }

    /// <summary>A copy with the given body.</summary>
    /// <param name="content">The body.</param>
    public NetRequest WithContent(NetContent? content) => this with { Content = content };

    /// <summary>A copy that carries no credentials.</summary>
    public NetRequest AsAnonymous() => this with { Anonymous = true };

    /// <summary>A copy with an idempotency key (makes a POST or PATCH retryable).</summary>
    /// <param name="key">The key; the same for every attempt of this logical request.</param>
    public NetRequest WithIdempotencyKey(string key) => this with { IdempotencyKey = key };

    /// <summary>A copy that never shares a wire request with identical concurrent ones.</summary>
    public NetRequest WithoutDeduplication() => this with { NoDeduplication = true };

    /// <summary>A copy whose streamed body (<see cref="INetClient.SendStreamAsync"/>) may have at most <paramref name="bytes"/> bytes.</summary>
    /// <param name="bytes">The limit, more than zero.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is zero or negative.</exception>
    public NetRequest WithMaxStreamedBytes(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        return this with { MaxStreamedBytes = bytes };
    }

    /// <summary>A copy that reports the progress of sending its body (bytes sent and the total) to <paramref name="progress"/>.</summary>
    /// <param name="progress">The receiver; called from the thread that writes the body, keep it short.</param>
    public NetRequest WithUploadProgress(IProgress<TransferProgress> progress) => this with { UploadProgress = progress };

    /// <summary>
    /// The longest total timeout a request may have: what a <see cref="CancellationTokenSource"/> can wait for
    /// (about 49.7 days). A longer one is refused when the request is built or sent, never accepted and then lost.
    /// </summary>
    public static TimeSpan MaxTimeout { get; } = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>A copy with its own total timeout.</summary>
    /// <param name="timeout">The total timeout for this request: more than zero, at most <see cref="MaxTimeout"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The timeout is zero, negative or longer than <see cref="MaxTimeout"/>.</exception>
    public NetRequest WithTimeout(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero || timeout > MaxTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout,
                $"A request's timeout must be more than zero and at most {MaxTimeout.TotalDays:0.#} days.");
        }

        return this with { Timeout = timeout };
    }
}

/// <summary>An activity carried beside a value, never compared: every instance equals every other.</summary>
internal readonly record struct AmbientActivity(System.Diagnostics.Activity? Activity)
{
    public bool Equals(AmbientActivity other) => true;

    public override int GetHashCode() => 0;
}

/// <summary>The Uri a request was built from: never part of its value (two requests with the same URL text are equal).</summary>
internal readonly record struct GivenUri(Uri? Uri)
{
    public bool Equals(GivenUri other) => true;

    public override int GetHashCode() => 0;
}
