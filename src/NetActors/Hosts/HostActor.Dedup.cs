using System.Text;

namespace NetActors.Hosts;

/// <summary>HostActor: in-flight deduplication of identical GET/HEAD requests.</summary>
internal sealed partial class HostActor
{
    // ---- in-flight deduplication ---------------------------------------------------------------------------

    /// <summary>Attaches the exchange to an identical one on the wire, if there is one.</summary>
    private bool TryFollow(Exchange ex)
    {
        if (ex.Leader is not null || ex.DedupKey is not null || !ex.Client.Deduplicate || ex.Request.NoDeduplication ||
            ex.Priority || ex.Content is not null || (ex.Method != HttpMethod.Get && ex.Method != HttpMethod.Head))
        {
            return false;
        }

        var key = DedupKey(ex);
        if (_shared.TryGetValue(key, out var leader) && leader.State != ExchangeState.Done && !leader.Aborted)
        {
            (leader.Followers ??= []).Add(ex);
            ex.Leader = leader;
            ex.State = ExchangeState.Following;
            ArmTotal(ex);
            return true;
        }

        ex.DedupKey = key;
        _shared[key] = ex;
        return false;
    }

    /// <summary>
    /// What makes two requests identical: client, anonymity, error-status handling, method, URL and request
    /// headers. A value tuple, so the common case (no request headers) allocates nothing. The URL is the text the
    /// target was made from (the same text always makes the same target; two spellings of one URL are simply not
    /// shared), which costs nothing, where the normalised form would be built per request.
    /// </summary>
    private static SharedKey DedupKey(Exchange ex)
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
            ex.Target!.OriginalString, headers);
    }

    private void LeaveShared(Exchange ex)
    {
        if (ex.DedupKey is { } key && _shared.TryGetValue(key, out var current) && ReferenceEquals(current, ex))
        {
            _shared.Remove(key);
        }

        ex.DedupKey = null;
    }
}
