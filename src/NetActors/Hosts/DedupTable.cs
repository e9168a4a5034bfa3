using System.Buffers;
using System.Text;

namespace NetActors.Hosts;

/// <summary>
/// In-flight deduplication of identical GET/HEAD requests, without actor state of its own beyond the table: the
/// first request of a key leads (it goes on the wire), later identical ones follow it and share its response.
/// Owned by one host actor; not thread-safe.
/// </summary>
internal sealed class DedupTable
{
    private readonly Dictionary<SharedKey, Exchange> _leaders = new();

    /// <summary>How many shared calls are open.</summary>
    public int Count => _leaders.Count;

    /// <summary>
    /// Attaches <paramref name="ex"/> to an identical exchange that leads a live shared call and returns true; or
    /// makes it the leader of its key and returns false. An exchange that may not share (a body, not GET/HEAD, a
    /// token refresh, opted out) is left alone, and false is returned.
    /// </summary>
    /// <param name="ex">The exchange.</param>
    /// <param name="session">The session generation of the client's realm (0 without one): a request sent after a
    /// sign-in or a sign-out never shares a call started in the session before (it would get another user's answer).</param>
    public bool TryFollow(Exchange ex, long session = 0)
    {
        if (ex.Leader is not null || ex.DedupKey is not null || !CanShare(ex))
        {
            return false;
        }

        var key = KeyOf(ex, session);
        if (_leaders.TryGetValue(key, out var leader) && leader.State != ExchangeState.Done && !leader.Aborted)
        {
            (leader.Followers ??= []).Add(ex);
            ex.Leader = leader;
            ex.State = ExchangeState.Following;
            return true;
        }

        ex.DedupKey = key;
        _leaders[key] = ex;
        return false;
    }

    /// <summary>No later request follows <paramref name="ex"/> any more (it ended, moved or lost its call).</summary>
    public void Leave(Exchange ex)
    {
        if (ex.DedupKey is { } key && _leaders.TryGetValue(key, out var current) && ReferenceEquals(current, ex))
        {
            _leaders.Remove(key);
        }

        ex.DedupKey = null;
    }

    /// <summary>Whether the exchange may share a wire call at all (a streamed body has one reader: never shared).</summary>
    public static bool CanShare(Exchange ex) =>
        ex.Client.Deduplicate && !ex.Request.NoDeduplication && !ex.Priority && !ex.Streamed && ex.Content is null &&
        (ex.Method == HttpMethod.Get || ex.Method == HttpMethod.Head);

    /// <summary>
    /// What makes two requests identical: client, anonymity, error-status handling, method, URL and request
    /// headers. A value tuple, so the common case (no request headers) allocates nothing. The URL stands for what goes
    /// on the wire (see <see cref="WireUrl"/>).
    /// </summary>
    public static SharedKey KeyOf(Exchange ex, long session = 0)
    {
        string? headers = null;
        if (ex.Request.Headers.Count > 0)
        {
            var sb = new StringBuilder(128);
            foreach (var (name, value) in ex.Request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
            {
                sb.Append(name.ToLowerInvariant()).Append(':').Append(value).Append('\n');
            }

            headers = sb.ToString();
        }

        return new SharedKey(ex.Request.Client, ex.Request.Anonymous, ex.Request.AllowErrorStatus, ex.Method,
            WireUrl(ex.Target!), headers, session);
    }

    /// <summary>
    /// The URL of a target as a key of what goes on the wire. A caller's Uri built with
    /// <see cref="UriCreationOptions.DangerousDisablePathAndQueryCanonicalization"/> goes as its text is, where the same
    /// text given as a string goes canonicalised, so the text alone is not the key: <see cref="Uri.AbsoluteUri"/> is.
    /// But its first read builds and keeps about 200 B in the Uri, per request. A text whose path and query no
    /// canonicalisation changes (printable ASCII, no '%', no backslash, no dot segment: what requests almost always
    /// are) goes the same either way, so it is its own key, read for nothing; only the others pay for AbsoluteUri.
    /// </summary>
    public static string WireUrl(Uri target)
    {
        var text = target.OriginalString;
        return text.AsSpan().IndexOfAnyExcept(PlainUrlChars) < 0 && !text.Contains("/.", StringComparison.Ordinal)
            ? text
            : target.AbsoluteUri;
    }

    /// <summary>What canonicalisation leaves as it is: printable ASCII but '%', '\\' and the characters it escapes.</summary>
    private static readonly SearchValues<char> PlainUrlChars = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;=");
}
