using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>A client's HTTP cache settings (<c>cache.*</c>).</summary>
public sealed record CacheSettings
{
    /// <summary>Whether the client's GET and HEAD responses are cached.</summary>
    public bool Enabled { get; init; }

    /// <summary>Most bytes (bodies and headers) the client's cache holds; the least recently used go first.</summary>
    public long MaxBytes { get; init; } = Configuration.ReferenceDefaults.Size("client-defaults.cache.max-bytes");

    /// <summary>Largest single response that is stored.</summary>
    public long MaxEntryBytes { get; init; } = Configuration.ReferenceDefaults.Size("client-defaults.cache.max-entry-bytes");

    /// <summary>
    /// How long past its freshness a stored response may still be served, marked stale, when the origin cannot
    /// be reached (network error, timeout, 5xx, open circuit). Zero: never.
    /// </summary>
    public TimeSpan StaleIfError { get; init; }

    /// <summary>
    /// Freshness for every response of the client, instead of what the response says (<c>no-store</c> still
    /// wins). Zero: the response's own <c>Cache-Control</c>/<c>Expires</c>.
    /// </summary>
    public TimeSpan DefaultTtl { get; init; }

    /// <summary>Freshness per path pattern (<c>*</c> matches anything); the longest matching pattern wins.</summary>
    public IReadOnlyList<KeyValuePair<string, TimeSpan>> PathTtls { get; init; } = [];

    /// <summary>The TTL override for <paramref name="path"/>, or null when the response decides.</summary>
    /// <param name="path">The URL's absolute path.</param>
    public TimeSpan? TtlFor(string path)
    {
        TimeSpan? best = null;
        var bestLength = -1;
        foreach (var (pattern, ttl) in PathTtls)
        {
            if (pattern.Length > bestLength && Glob(pattern, path))
            {
                best = ttl;
                bestLength = pattern.Length;
            }
        }

        return best ?? (DefaultTtl > TimeSpan.Zero ? DefaultTtl : null);
    }

    internal static CacheSettings Create(HoconReader r, Config client)
    {
        var settings = new CacheSettings
        {
            Enabled = r.Bool("cache.enabled"),
            MaxBytes = r.ByteSize("cache.max-bytes", min: 1024),
            MaxEntryBytes = r.ByteSize("cache.max-entry-bytes", min: 1),
            StaleIfError = r.Duration("cache.stale-if-error", allowZero: true),
            DefaultTtl = r.Duration("cache.default-ttl", allowZero: true),
            PathTtls = ReadPathTtls(r, client),
        };
        if (settings.MaxEntryBytes > settings.MaxBytes)
        {
            throw r.Invalid("cache.max-entry-bytes", $"{settings.MaxEntryBytes} is larger than cache.max-bytes ({settings.MaxBytes}).");
        }

        return settings;
    }

    private static List<KeyValuePair<string, TimeSpan>> ReadPathTtls(HoconReader r, Config client)
    {
        var ttls = new List<KeyValuePair<string, TimeSpan>>();
        var section = client.GetConfig("cache.path-ttls");
        if (section is null || section.IsEmpty)
        {
            return ttls;
        }

        foreach (var pattern in section.Root.GetObject().Items.Keys)
        {
            if (!pattern.StartsWith('/'))
            {
                throw r.Invalid($"cache.path-ttls.\"{pattern}\"", "a path pattern must start with '/' (for example \"/reference/*\").");
            }

            ttls.Add(new(pattern, r.Duration($"cache.path-ttls.\"{pattern}\"")));
        }

        return ttls;
    }

    /// <summary>Matches <paramref name="text"/> against a pattern where <c>*</c> matches any run of characters.</summary>
    internal static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
