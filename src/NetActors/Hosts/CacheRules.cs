namespace NetActors.Hosts;

/// <summary>
/// The request side of the private HTTP cache's rules (RFC 9111, as they matter to a client), without actor state:
/// whether a request may be answered from or stored in the cache, and what its own directives say. The response
/// side (freshness, validators, <c>Vary</c>) is <see cref="Caching.CacheEntry"/>'s.
/// </summary>
internal static class CacheRules
{
    private static readonly string[] ConditionalHeaders =
        ["If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"];

    /// <summary>
    /// Whether the exchange may use the cache at all: a GET or HEAD (not a download), not a conditional request of
    /// the caller's own, no hand-set credentials (they may be anyone's: never shared).
    /// </summary>
    public static bool IsCacheable(Exchange ex)
    {
        if ((ex.Method != HttpMethod.Get && ex.Method != HttpMethod.Head) || ex.Request.Download is not null)
        {
            return false;
        }

        foreach (var name in ConditionalHeaders)
        {
            if (RequestMessageBuilder.HeaderValue(ex.Request.Headers, name) is not null)
            {
                return false; // the caller runs its own conditional request: pass it through untouched
            }
        }

        foreach (var (name, _) in ex.Request.Headers)
        {
            if (ex.Redaction.IsSecretHeader(name))
            {
                return false; // credentials set by hand (Authorization, Cookie, …) may be anyone's: never shared
            }
        }

        return true;
    }

    /// <summary>The request's own <c>Cache-Control</c>: no-store, and no-cache (or max-age=0).</summary>
    public static (bool NoStore, bool NoCache) RequestDirectives(Exchange ex)
    {
        var value = RequestMessageBuilder.HeaderValue(ex.Request.Headers, "Cache-Control");
        if (value is null)
        {
            return (false, false);
        }

        return (value.Contains("no-store", StringComparison.OrdinalIgnoreCase),
            value.Contains("no-cache", StringComparison.OrdinalIgnoreCase) ||
            value.Contains("max-age=0", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The value a request header has on the wire: the request's own, else the client's default.</summary>
    public static Func<string, string?> RequestHeaderOf(Exchange ex) => name =>
        RequestMessageBuilder.HeaderValue(ex.Request.Headers, name) ?? RequestMessageBuilder.HeaderValue(ex.Client.DefaultHeaders, name);
}
