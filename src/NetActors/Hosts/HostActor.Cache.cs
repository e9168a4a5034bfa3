using System.Net;
using NetActors.Caching;
using NetActors.Errors;

namespace NetActors.Hosts;

/// <summary>The HTTP cache's part of the host actor: lookups at admission, storage and revalidation at completion.</summary>
internal sealed partial class HostActor
{
    /// <summary>
    /// Looks the exchange up in its client's cache. A fresh entry answers it at once (no slot, no rate permit);
    /// a stale one is kept on the exchange for revalidation or a stale-if-error answer. True when answered.
    /// </summary>
    private bool TryAnswerFromCache(Exchange ex)
    {
        // A streamed body is read once, by its caller, from the wire: it is neither answered from nor stored in the cache.
        if (!ex.Client.Cache.Enabled || ex.Streamed || ex.Redirects > 0 || !CacheRules.IsCacheable(ex) || _context.Caches.For(ex.Client) is not { } cache)
        {
            return false;
        }

        var directives = CacheRules.RequestDirectives(ex);
        if (directives.NoStore)
        {
            return false;
        }

        ex.Cache = cache;
        ex.CacheEpoch = cache.Epoch;
        var entry = cache.Find(ResponseCache.KeyOf(ex.Method, ex.Target!, ex.Request.Anonymous), CacheRules.RequestHeaderOf(ex));
        if (entry is null)
        {
            CountCache(ex, "miss");
            return false;
        }

        if (!directives.NoCache && entry.IsFreshAt(Now))
        {
            CountCache(ex, "hit");
            Deliver(ex, entry.ToResponse(ex.Request, 0, ex.Elapsed, ex.Redaction, stale: false), null);
            return true;
        }

        CountCache(ex, entry.HasValidator ? "revalidate" : "miss");
        ex.Cached = entry;
        return false;
    }

    /// <summary>A 304 to a revalidation: the stored body, with the 304's headers and renewed freshness.</summary>
    private bool TryCompleteNotModified(Exchange ex, HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.NotModified || ex.Cached is not { } cached || ex.Cache is not { } cache)
        {
            return false;
        }

        var renewed = cached.Revalidated(response, cache.Settings, Now);
        if (CacheEntry.MayNotStore(renewed.Headers))
        {
            cache.Invalidate(ex.Target!); // the server no longer lets it be kept: this answer is its last use
        }
        else
        {
            cache.Store(renewed, ex.CacheEpoch, TokenVersionOf(ex));
        }

        CompleteShared(ex, renewed.ToResponse(ex.Request, ex.Attempts, ex.Elapsed, ex.Redaction, stale: false));
        return true;
    }

    /// <summary>Stores a cacheable response, and drops stored ones an unsafe request has made out of date.</summary>
    private void RememberResponse(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        var status = (int)response.StatusCode;
        if (ex.Cache is { } cache)
        {
            var key = ResponseCache.KeyOf(ex.Method, ex.Target!, ex.Request.Anonymous);
            if (CacheEntry.TryCreate(key, ex.Target!, response.StatusCode, response.Headers, response.Content.Headers,
                    body, CacheRules.RequestHeaderOf(ex), cache.Settings, Now, response.RequestMessage?.Headers, ex.Authorization) is { } entry)
            {
                cache.Store(entry, ex.CacheEpoch, TokenVersionOf(ex));
            }
            else if (ex.Cached is not null)
            {
                // A revalidation answered with a new response that may not be kept (no-store, Vary: *): the old
                // entry is out of date now, so it is dropped rather than served stale later.
                cache.Invalidate(ex.Target!);
            }
        }
        else if (status is >= 200 and <= 399)
        {
            InvalidateAfterUnsafe(ex, response);
        }
    }

    /// <summary>
    /// After a successful (non-error) answer to an unsafe request, drops what is stored for its URL and for the
    /// same-origin <c>Location</c>/<c>Content-Location</c> it names (RFC 9111 §4.4).
    /// </summary>
    private void InvalidateAfterUnsafe(Exchange ex, HttpResponseMessage? response)
    {
        if (ex.Method == HttpMethod.Get || ex.Method == HttpMethod.Head || ex.Method == HttpMethod.Options ||
            ex.Method == HttpMethod.Trace || _context.Caches.Find(ex.Request.Client) is not { } cache)
        {
            return;
        }

        cache.Invalidate(ex.Target!);
        foreach (var named in (ReadOnlySpan<Uri?>)[response?.Headers.Location, response?.Content.Headers.ContentLocation])
        {
            if (named is not null && new Uri(ex.Target!, named) is var uri && Configuration.Origins.KeyOf(uri) == _origin)
            {
                cache.Invalidate(uri);
            }
        }
    }

    /// <summary>
    /// Instead of failing with <paramref name="failure"/> (the origin could not be reached), answers with the
    /// stored entry, marked stale, when <c>cache.stale-if-error</c> allows it.
    /// </summary>
    private bool TryServeStale(Exchange ex, Exception failure)
    {
        if (ex.Cached is not { } cached || ex.Cache is not { } cache || cache.Settings.StaleIfError <= TimeSpan.Zero ||
            cached.MustRevalidate || cached.NoCache || cached.StalenessAt(Now) > cache.Settings.StaleIfError ||
            failure is not (NetworkException or NetTimeoutException or ServerException or CircuitOpenException))
        {
            return false;
        }

        CountCache(ex, "stale");
        CompleteShared(ex, cached.ToResponse(ex.Request, ex.Attempts, ex.Elapsed, ex.Redaction, stale: true));
        return true;
    }

    /// <summary>The version of the realm token the response was fetched with; null without one.</summary>
    private static long? TokenVersionOf(Exchange ex) => ex.Authorization is null ? null : ex.TokenVersion;

    private void CountCache(Exchange ex, string result) =>
        _context.Metrics.CacheRequests.Add(1,
            new KeyValuePair<string, object?>("netactors.client", ex.Request.Client),
            new KeyValuePair<string, object?>("netactors.cache.result", result));
}
