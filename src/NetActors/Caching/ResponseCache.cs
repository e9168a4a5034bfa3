using System.Collections.Concurrent;
using NetActors.Configuration;

namespace NetActors.Caching;

/// <summary>
/// One client's private HTTP cache: GET and HEAD responses by method and URL (several per URL when the
/// response varies on request headers), bounded by bytes, least recently used evicted first. Host actors of
/// several origins may share it, so it is guarded by a lock; every operation is short.
/// </summary>
internal sealed class ResponseCache(CacheSettings settings, string? realm)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, List<CacheEntry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<CacheEntry> _recency = new();
    private long _epoch;
    private long _minTokenVersion;

    public CacheSettings Settings { get; } = settings;

    /// <summary>The auth realm of the client, whose session changes clear this cache.</summary>
    public string? Realm { get; } = realm;

    /// <summary>Changes on every <see cref="Clear"/>: a response requested before a clear is not stored after it.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>Bytes held.</summary>
    public long Bytes { get; private set; }

    /// <summary>Entries held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _recency.Count;
            }
        }
    }

    /// <summary>
    /// The key of a request: method, whether it carried credentials (an anonymous request never gets what was
    /// fetched with the realm's token, nor the other way round), and the absolute URL.
    /// </summary>
    public static string KeyOf(HttpMethod method, Uri uri, bool anonymous = false) =>
        string.Concat(method.Method, anonymous ? " anonymous " : " ", uri.AbsoluteUri);

    /// <summary>The entry for <paramref name="key"/> whose Vary values match the request, marked as just used.</summary>
    public CacheEntry? Find(string key, Func<string, string?> requestHeader)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var variants))
            {
                return null;
            }

            foreach (var entry in variants)
            {
                if (entry.Matches(requestHeader))
                {
                    _recency.Remove(entry.Recency!);
                    _recency.AddFirst(entry.Recency!);
                    return entry;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// Stores <paramref name="entry"/> (replacing the variant it matches), then evicts the least recently used
    /// entries until it fits. Not stored: a response requested before the last clear (<paramref name="epoch"/>),
    /// or fetched with a token of a session that has ended since (<paramref name="tokenVersion"/> below the
    /// clear's floor; a host actor may still hold the old token for a moment after a sign-in).
    /// </summary>
    public void Store(CacheEntry entry, long epoch, long? tokenVersion)
    {
        lock (_gate)
        {
            if (epoch != _epoch || tokenVersion < _minTokenVersion)
            {
                return; // from a session that has ended since
            }

            if (!_entries.TryGetValue(entry.Key, out var variants))
            {
                variants = [];
                _entries[entry.Key] = variants;
            }

            for (var i = variants.Count - 1; i >= 0; i--)
            {
                if (SameVariant(variants[i], entry))
                {
                    Unlink(variants[i]);
                    variants.RemoveAt(i);
                }
            }

            variants.Add(entry);
            entry.Recency = _recency.AddFirst(entry);
            Bytes += entry.Size;
            while (Bytes > Settings.MaxBytes && _recency.Last is { } oldest)
            {
                Remove(oldest.Value);
            }
        }
    }

    /// <summary>Removes what is stored for <paramref name="uri"/> (after an unsafe request to it succeeded).</summary>
    public void Invalidate(Uri uri)
    {
        lock (_gate)
        {
            foreach (var method in (ReadOnlySpan<HttpMethod>)[HttpMethod.Get, HttpMethod.Head])
            {
                foreach (var anonymous in (ReadOnlySpan<bool>)[false, true])
                {
                    if (_entries.Remove(KeyOf(method, uri, anonymous), out var variants))
                    {
                        variants.ForEach(Unlink);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Empties the cache (the session ended or changed). From now on only responses fetched with a token of
    /// version <paramref name="minTokenVersion"/> or later are stored.
    /// </summary>
    public void Clear(long minTokenVersion = 0)
    {
        lock (_gate)
        {
            _epoch++;
            _minTokenVersion = Math.Max(_minTokenVersion, minTokenVersion);
            _entries.Clear();
            _recency.Clear();
            Bytes = 0;
        }
    }

    private static bool SameVariant(CacheEntry a, CacheEntry b)
    {
        if (a.Vary.Count != b.Vary.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Vary.Count; i++)
        {
            if (!string.Equals(a.Vary[i].Key, b.Vary[i].Key, StringComparison.OrdinalIgnoreCase) ||
                !string.Equals(a.Vary[i].Value, b.Vary[i].Value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private void Remove(CacheEntry entry)
    {
        if (_entries.TryGetValue(entry.Key, out var variants))
        {
            variants.Remove(entry);
            if (variants.Count == 0)
            {
                _entries.Remove(entry.Key);
            }
        }

        Unlink(entry);
    }

    private void Unlink(CacheEntry entry)
    {
        if (entry.Recency is { List: not null } node)
        {
            _recency.Remove(node);
            Bytes -= entry.Size;
        }

        entry.Recency = null;
    }
}

/// <summary>The caches of all clients of one runtime, created on first use.</summary>
internal sealed class CacheRegistry
{
    private readonly ConcurrentDictionary<string, ResponseCache> _caches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _floors = new(StringComparer.Ordinal);

    /// <summary>The client's cache, or null when its cache is off.</summary>
    public ResponseCache? For(ClientSettings client) =>
        client.Cache.Enabled ? _caches.GetOrAdd(client.Name, static (_, state) => state.registry.Create(state.client), (registry: this, client)) : null;

    private ResponseCache Create(ClientSettings client)
    {
        var cache = new ResponseCache(client.Cache, client.AuthRealm);
        if (client.AuthRealm is { } realm && _floors.TryGetValue(realm, out var floor))
        {
            cache.Clear(floor); // a session changed before this client's first request
        }

        return cache;
    }

    /// <summary>The cache of the client named <paramref name="client"/>, if it has been used.</summary>
    public ResponseCache? Find(string client) => _caches.GetValueOrDefault(client);

    /// <summary>
    /// The realm's session generation: it grows on every sign-in and sign-out (before either is answered), so a
    /// request admitted after one never shares an in-flight call, nor a stored response, of the session before.
    /// </summary>
    public long SessionOf(string realm) => _floors.GetValueOrDefault(realm);

    /// <summary>
    /// Clears the caches of every client of <paramref name="realm"/> (its session ended or changed); only
    /// responses fetched with tokens from <paramref name="minTokenVersion"/> on are stored afterwards.
    /// </summary>
    public void ClearRealm(string realm, long minTokenVersion)
    {
        _floors.AddOrUpdate(realm, minTokenVersion, (_, floor) => Math.Max(floor, minTokenVersion));
        foreach (var cache in _caches.Values)
        {
            if (string.Equals(cache.Realm, realm, StringComparison.Ordinal))
            {
                cache.Clear(minTokenVersion);
            }
        }
    }
}
