using Akka.Actor;
using NetActors.Errors;

namespace NetActors.Hosts;

/// <summary>HostActor: bearer tokens of auth realms, 401 handling, requests waiting for a token.</summary>
internal sealed partial class HostActor
{
    // ---- auth --------------------------------------------------------------------------------------------

    /// <summary>
    /// Attaches the realm's token when the exchange needs one. False when the exchange cannot go now: it waits
    /// for a token (holding no slot) or has failed because the session ended.
    /// </summary>
    private bool Authorize(Exchange ex)
    {
        ex.Authorization = null;
        if (ex.Request.Anonymous || ex.Client.AuthRealm is not { } realmName ||
            !_context.Realms.TryGetValue(realmName, out var route) || !route.Settings.Origins.Contains(_origin))
        {
            // Invariant 7: a token only ever goes to its realm's origins (checked per hop, so redirects too).
            return true;
        }

        var cache = RealmFor(realmName, route);
        if (cache.EndedReason is { } reason)
        {
            Fail(ex, new SessionExpiredException(ex.Info(), realmName, reason));
            return false;
        }

        if (cache.IsUsable(Now))
        {
            ex.Authorization = cache.Authorization;
            ex.TokenVersion = cache.Version;
            return true;
        }

        WaitForToken(ex, cache, Math.Max(cache.Version, cache.RejectedVersion));
        return false;
    }

    private RealmCache RealmFor(string realm, RealmRoute route)
    {
        if (!_realms.TryGetValue(realm, out var cache))
        {
            cache = new RealmCache(route);
            _realms[realm] = cache;
        }

        return cache;
    }

    private void WaitForToken(Exchange ex, RealmCache cache, long staleVersion)
    {
        ex.State = ExchangeState.WaitingForToken;
        ArmTotal(ex);
        ex.QueueNode = cache.Waiting.AddLast(ex);
        cache.Ask(staleVersion, Self);
    }

    /// <summary>A 401 for a request that carried a token: one retry with a newer token, never a loop.</summary>
    private void OnUnauthorized(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        var realm = ex.Client.AuthRealm!;
        var cache = RealmFor(realm, _context.Realms[realm]);
        cache.Rejected(ex.TokenVersion);
        _context.Metrics.Unauthorized.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        if (ex.AuthRetried)
        {
            var problem = IsProblemJson(response) ? NetProblemDetails.TryParse(body.Span) : null;
            Fail(ex, new UnauthorizedException(ex.Info(), problem));
            return;
        }

        ex.AuthRetried = true;
        if (cache.IsUsable(Now))
        {
            // A newer token arrived while this request was on the wire: retry with it, no refresh.
            Enqueue(ex, front: true);
            return;
        }

        WaitForToken(ex, cache, ex.TokenVersion);
    }

    private void OnTokenGranted(Auth.TokenGranted granted)
    {
        if (!_realms.TryGetValue(granted.Realm, out var cache))
        {
            return;
        }

        cache.Granted(granted);
        // Waiting exchanges go back to the front of the queue, in their order, ahead of newer requests.
        for (var node = cache.Waiting.Last; node is not null; node = cache.Waiting.Last)
        {
            cache.Waiting.RemoveLast();
            var ex = node.Value;
            ex.QueueNode = null;
            if (ex.IsCompleted && !ex.HasLiveFollowers)
            {
                Drop(ex);
                continue;
            }

            Enqueue(ex, front: true);
        }

        PumpQueue();
    }

    private void OnTokenDenied(Auth.TokenDenied denied)
    {
        if (!_realms.TryGetValue(denied.Realm, out var cache))
        {
            return;
        }

        cache.Denied(denied);
        foreach (var ex in cache.Waiting.ToList())
        {
            Fail(ex, denied.Denial switch
            {
                Auth.TokenDenial.SessionExpired => new SessionExpiredException(ex.Info(), denied.Realm, denied.Reason),
                Auth.TokenDenial.Overloaded => new OverloadedException(ex.Info(), "auth realm " + denied.Realm, cache.Route.Settings.StashCapacity),
                Auth.TokenDenial.Failed => new NetRuntimeException(ex.Info(), denied.Reason, null),
                Auth.TokenDenial.ClusterUnavailable => new ClusterUnavailableException(ex.Info(), denied.Realm, denied.Reason),
                _ => new ResponseFormatException(ex.Info(), "no token: " + denied.Reason, null),
            });
        }

        PumpQueue();
    }
}
