using System.Net;
using System.Net.Http.Headers;
using NetActors.Telemetry;
using NetActors.Configuration;

namespace NetActors.Caching;

/// <summary>
/// One stored response: status, copies of its headers, its body, and what decides its freshness. Immutable:
/// a revalidation (304) replaces the entry with a new one.
/// </summary>
internal sealed class CacheEntry
{
    private static readonly string[] NotMergedFrom304 = ["Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding"];

    private CacheEntry(string key, Uri uri, HttpStatusCode status, HttpResponseHeaders headers,
        HttpContentHeaders contentHeaders, ReadOnlyMemory<byte> body, IReadOnlyList<KeyValuePair<string, string?>> vary)
    {
        Key = key;
        Uri = uri;
        Status = status;
        Headers = headers;
        ContentHeaders = contentHeaders;
        Body = body;
        Vary = vary;
        var cc = headers.CacheControl;
        NoCache = cc?.NoCache == true;
        MustRevalidate = cc?.MustRevalidate == true || cc?.ProxyRevalidate == true;
        ETag = headers.ETag?.ToString();
        LastModified = contentHeaders.LastModified;
        Size = body.Length + 64 + key.Length * 2 + EstimateHeaders(headers) + EstimateHeaders(contentHeaders);
    }

    /// <summary>The method and absolute URL.</summary>
    public string Key { get; }

    public Uri Uri { get; }

    public HttpStatusCode Status { get; }

    public HttpResponseHeaders Headers { get; }

    public HttpContentHeaders ContentHeaders { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The request's values of the headers the response varies on.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Vary { get; }

    /// <summary>When the entry was stored or last revalidated, on the runtime's clock.</summary>
    public DateTimeOffset StoredAt { get; private init; }

    /// <summary>Its age when stored (the response's <c>Age</c> header).</summary>
    public TimeSpan InitialAge { get; private init; }

    /// <summary>How long it is fresh from its origin's point of view.</summary>
    public TimeSpan Lifetime { get; private init; }

    /// <summary>The response said <c>no-cache</c>: every use is revalidated.</summary>
    public bool NoCache { get; private set; }

    /// <summary>The response said <c>must-revalidate</c>: never served stale.</summary>
    public bool MustRevalidate { get; }

    public string? ETag { get; }

    public DateTimeOffset? LastModified { get; }

    public bool HasValidator => ETag is not null || LastModified is not null;

    /// <summary>Approximate bytes held: body, headers, bookkeeping.</summary>
    public long Size { get; }

    /// <summary>The entry's node in its cache's recency list.</summary>
    public LinkedListNode<CacheEntry>? Recency { get; set; }

    public TimeSpan AgeAt(DateTimeOffset now) => InitialAge + (now - StoredAt);

    public bool IsFreshAt(DateTimeOffset now) => !NoCache && AgeAt(now) < Lifetime;

    /// <summary>How long past its freshness the entry is at <paramref name="now"/> (zero or negative when fresh).</summary>
    public TimeSpan StalenessAt(DateTimeOffset now) => AgeAt(now) - Lifetime;

    /// <summary>True when the request's values of the Vary headers are the ones this entry was stored for.</summary>
    public bool Matches(Func<string, string?> requestHeader)
    {
        foreach (var (name, value) in Vary)
        {
            if (!string.Equals(requestHeader(name), value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The entry as a response to <paramref name="request"/>, with headers of its own (a caller or an interceptor
    /// that changes them changes nothing stored).
    /// </summary>
    public NetResponse ToResponse(NetRequest request, int attempts, TimeSpan elapsed, RedactionSettings redaction, bool stale) =>
        new(request, Uri, Status, Copy(Headers), Copy(ContentHeaders), Body, attempts, elapsed, redaction) { FromCache = true, Stale = stale };

    /// <summary>
    /// An entry for a response, or null when it must not or need not be stored: not 200/203, <c>no-store</c>,
    /// <c>Vary: *</c>, over the entry limit, or neither fresh for any time nor revalidatable.
    /// </summary>
    public static CacheEntry? TryCreate(string key, Uri uri, HttpStatusCode status, HttpResponseHeaders headers,
        HttpContentHeaders? contentHeaders, ReadOnlyMemory<byte> body, Func<string, string?> requestHeader,
        CacheSettings settings, DateTimeOffset now, HttpRequestHeaders? sent = null, string? realmAuthorization = null)
    {
        if (status is not (HttpStatusCode.OK or HttpStatusCode.NonAuthoritativeInformation) ||
            MayNotStore(headers) || body.Length > settings.MaxEntryBytes)
        {
            return null;
        }

        var vary = new List<KeyValuePair<string, string?>>();
        foreach (var name in headers.Vary)
        {
            if (name == "*")
            {
                return null;
            }

            // What the request says and what went on the wire can differ: a hook may set a header, and the realm's
            // token is set by the runtime. The realm's token is the same for every entry of this private cache (it
            // is cleared when the session changes), so it does not split entries; any other difference cannot be
            // keyed from the next request, so the response is not stored (never served to another user or tenant).
            var value = requestHeader(name);
            var onWire = sent is null ? value : sent.NonValidated.TryGetValues(name, out var values) ? values.ToString() : null;
            if (!string.Equals(onWire, value, StringComparison.Ordinal))
            {
                if (realmAuthorization is not null && string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase) &&
                    string.Equals(onWire, realmAuthorization, StringComparison.Ordinal))
                {
                    continue;
                }

                return null;
            }

            vary.Add(new(name, value));
        }

        var entry = new CacheEntry(key, uri, status, Copy(headers), Copy(contentHeaders), body, vary);
        return entry.WithFreshness(settings, now) is { } fresh && (fresh.Lifetime > TimeSpan.Zero || fresh.HasValidator)
            ? fresh
            : null;
    }

    /// <summary>
    /// Whether the response's <c>Cache-Control</c> forbids storing it: <c>no-store</c>, or a header .NET cannot read
    /// (one bad directive, <c>max-age=abc</c>, hides all the others, <c>no-store</c> among them: such a response is
    /// not stored, rather than stored against what its server may have said).
    /// </summary>
    public static bool MayNotStore(HttpResponseHeaders headers) =>
        headers.CacheControl is { } cc ? cc.NoStore : headers.NonValidated.Contains("Cache-Control");

    /// <summary>
    /// The entry after a 304: the 304's headers replace the stored ones of the same name (RFC 9111 §4.3.4), the
    /// body stays, freshness starts again. The caller keeps it only if <see cref="MayNotStore"/> allows (a 304 may
    /// say <c>no-store</c> now).
    /// </summary>
    public CacheEntry Revalidated(HttpResponseMessage notModified, CacheSettings settings, DateTimeOffset now)
    {
        var headers = Copy(Headers);
        headers.Remove("Age"); // the 304's own Age (or none) counts from now
        Merge(headers, notModified.Headers);
        var contentHeaders = Copy(ContentHeaders);
        Merge(contentHeaders, notModified.Content.Headers); // .NET keeps Expires and Last-Modified here
        var entry = new CacheEntry(Key, Uri, Status, headers, contentHeaders, Body, Vary);
        return entry.WithFreshness(settings, now)!;
    }

    private static void Merge(HttpHeaders stored, HttpHeaders from304)
    {
        foreach (var (name, values) in from304.NonValidated)
        {
            if (!NotMergedFrom304.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                stored.Remove(name);
                stored.TryAddWithoutValidation(name, values);
            }
        }
    }

    private CacheEntry? WithFreshness(CacheSettings settings, DateTimeOffset now)
    {
        var cc = Headers.CacheControl;
        var ttl = settings.TtlFor(Uri.AbsolutePath);
        TimeSpan lifetime;
        if (ttl is { } overridden)
        {
            lifetime = overridden;
            NoCache = false; // the client decided this data's freshness (no-store still wins, above)
        }
        else if (cc?.MaxAge is { } maxAge)
        {
            lifetime = maxAge;
        }
        else if (ContentHeaders.Expires is { } expires)
        {
            lifetime = expires - (Headers.Date ?? now);
        }
        else
        {
            lifetime = TimeSpan.Zero;
        }

        // The Age header only: Date is compared with nothing, so a skewed server clock cannot age entries.
        return new CacheEntry(Key, Uri, Status, Headers, ContentHeaders, Body, Vary)
        {
            StoredAt = now,
            // An Age too large to read is 2^31 s (RFC 9111 §1.2.2), not zero: the entry is stale at once.
            InitialAge = Headers.Age ?? (Headers.NonValidated.Contains("Age") ? TimeSpan.FromSeconds(2147483648) : TimeSpan.Zero),
            Lifetime = lifetime < TimeSpan.Zero ? TimeSpan.Zero : lifetime,
            NoCache = NoCache,
        };
    }

    private static HttpResponseHeaders Copy(HttpResponseHeaders source)
    {
        var headers = new HttpResponseMessage().Headers;
        foreach (var (name, values) in source)
        {
            headers.TryAddWithoutValidation(name, values);
        }

        return headers;
    }

    private static HttpContentHeaders Copy(HttpContentHeaders? source)
    {
        var headers = new HeadersOnly().Headers;
        if (source is not null)
        {
            foreach (var (name, values) in source)
            {
                headers.TryAddWithoutValidation(name, values);
            }
        }

        return headers;
    }

    private static long EstimateHeaders(HttpHeaders headers)
    {
        long size = 0;
        foreach (var (name, values) in headers.NonValidated)
        {
            size += name.Length + 16;
            foreach (var value in values)
            {
                size += value.Length * 2;
            }
        }

        return size;
    }

    /// <summary>Content that only carries headers; its length is never computed.</summary>
    private sealed class HeadersOnly : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Task.CompletedTask;

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
