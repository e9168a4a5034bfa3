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
            // A token only ever goes to its realm's origins (checked per hop, so redirects too).
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
            cache.Auth.Used(Self); // keeps proactive refresh going while the realm is in use (idle-refresh-after)
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
        cache.Waiting.AddLast(ex);
        cache.Ask(staleVersion, Self);
    }

    /// <summary>A 401 for a request that carried a token: one retry with a newer token, never a loop.</summary>
    private void OnUnauthorized(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        Unready(); // the requests next in line carry the token just rejected: they get the next one instead
        var realm = ex.Client.AuthRealm!;
        var cache = RealmFor(realm, _context.Realms[realm]);
        if (cache.Route.DPoP is not null && !ex.DPoPNonceRetried &&
            Auth.DPoPProofs.AsksForNonce(HeaderValues(response, "WWW-Authenticate")))
        {
            if (!RetryPolicy.MaySendAgain(ex)) // at most once, after a 401 too: the server did not act on it, but it was sent
            {
                Fail(ex, new UnauthorizedException(ex.Info(), null, NotResent + " The nonce is remembered: the next request carries it."));
                return;
            }

            // the server wants its nonce (remembered from this response) in the proof: one more attempt with
            // the same token, not an auth failure.
            ex.DPoPNonceRetried = true;
            Enqueue(ex, front: true);
            return;
        }

        _context.Metrics.Unauthorized.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        // whether a refresh can cure this 401 is the policy's decision; the host only acts on it.
        var decision = Auth.UnauthorizedPolicy.Decide(HeaderValues(response, "WWW-Authenticate"), cache.Auth.Vouched(ex.TokenVersion),
            ex.AuthRetried, cache.IsUsable(Now) && cache.Version > ex.TokenVersion);
        if (cache.Auth.Apply(decision, ex.TokenVersion))
        {
            cache.Rejected(ex.TokenVersion);
        }

        if (decision.Verdict == Auth.UnauthorizedVerdict.Fail)
        {
            var problem = ProblemOf(ex, response, body);
            Fail(ex, new UnauthorizedException(ex.Info(), problem));
            return;
        }

        if (!RetryPolicy.MaySendAgain(ex))
        {
            // The token is treated as the policy said (a refresh follows for the next request); this one went once.
            var problem = ProblemOf(ex, response, body);
            Fail(ex, new UnauthorizedException(ex.Info(), problem, NotResent));
            return;
        }

        LogUnauthorizedAttempt(ex, decision); // the attempt that triggered the retry is in the request log
        ex.AuthRetried = true;
        if (decision.Verdict == Auth.UnauthorizedVerdict.RetryWithCurrent)
        {
            // A newer token arrived while this request was on the wire: retry with it, no refresh.
            Enqueue(ex, front: true);
            return;
        }

        WaitForToken(ex, cache, ex.TokenVersion);
    }

    private const string NotResent =
        "It was not resent with a new token: a request that is not idempotent and has no idempotency key is sent at most once.";


    /// <summary>auth: a 2xx for a request that carried a token vouches for that token version on this origin.</summary>
    private void Vouch(Exchange ex)
    {
        if (ex.Authorization is not null && ex.Client.AuthRealm is { } realm && _realms.TryGetValue(realm, out var cache))
        {
            cache.Auth.Vouch(ex.TokenVersion);
        }
    }

    /// <summary>
    /// the DPoP proofs of the exchange's realm when it is sender-constrained: for its token on the realm's
    /// origins, and for its token requests (anonymous) wherever the token endpoint is.
    /// </summary>
    private Auth.DPoPProofs? DPoPFor(Exchange ex) =>
        ex.Client.AuthRealm is { } realm && _context.Realms.TryGetValue(realm, out var route) && route.DPoP is { } proofs &&
        (ex.Authorization is null || route.Settings.Origins.Contains(_origin))
            ? proofs
            : null;

    /// <summary>auth: a server may send a new DPoP nonce with any response; the next proof for this origin carries it.</summary>
    private void RememberDPoPNonce(Exchange ex, HttpResponseMessage response)
    {
        if (response.Headers.Contains(Auth.DPoPProofs.NonceHeader) && DPoPFor(ex) is { } proofs && ex.Target is { } target)
        {
            proofs.Remember(target, HeaderValues(response, Auth.DPoPProofs.NonceHeader));
        }
    }

    private static IEnumerable<string> HeaderValues(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values : [];

    private void LogUnauthorizedAttempt(Exchange ex, Auth.UnauthorizedDecision decision)
    {
        if (_context.Log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            var url = ex.Target is null ? ex.Redaction.Url(ex.Request.Url) : ex.Redaction.Url(ex.Target);
            _context.Log.Rejected(ex.Method.Method, url, 401, ex.Elapsed.TotalMilliseconds, ex.Attempts, ex.Request.Client,
                $"{decision.Why}; retrying with a newer token (token version {ex.TokenVersion})");
        }
    }

    private void OnTokenGranted(Auth.TokenGranted granted)
    {
        if (!_realms.TryGetValue(granted.Realm, out var cache))
        {
            return;
        }

        cache.Granted(granted);
        Unready(); // next in line with the old token: attached again, after the waiting ones
        // Waiting exchanges go back to the front of the queue, in their order, ahead of newer requests.
        for (var ex = cache.Waiting.Last; ex is not null; ex = cache.Waiting.Last)
        {
            cache.Waiting.Remove(ex);
            if (ex.IsCompleted && !ex.HasLiveFollowers)
            {
                Drop(ex);
                continue;
            }

            if (ex.Span is not null)
            {
                Telemetry.NetActivity.WaitedFor(ex, cache.Route.TokenActor, granted.Version); // telemetry: link to the refresh
            }

            Enqueue(ex, front: true);
        }

        PumpQueue();
    }

    /// <summary>
    /// the realm's token endpoint cannot be reached and its next attempt is due at <c>RetryAt</c>: a waiting
    /// request whose remaining time cannot cover it fails now with the cause, the others keep waiting.
    /// </summary>
    private void OnTokenUnavailable(Auth.TokenUnavailable notice)
    {
        if (!_realms.TryGetValue(notice.Realm, out var cache))
        {
            return;
        }

        cache.Delayed(notice);
        var wait = notice.RetryAt - Now;
        foreach (var ex in cache.Waiting.ToList())
        {
            if (ex.Remaining - DeadlineTolerance < wait)
            {
                Fail(ex, TokenUnavailable(ex, notice));
            }
        }

        PumpQueue();
    }

    private static TokenUnavailableException TokenUnavailable(Exchange ex, Auth.TokenUnavailable notice) =>
        new(ex.Info(), notice.Realm, notice.Reason, notice.RetryAt);

    /// <summary>auth: what a request that ran out of time waiting for a token gets when the token endpoint was failing.</summary>
    private Exception? TokenTimeout(Exchange ex) =>
        ex.State == ExchangeState.WaitingForToken && ex.Client.AuthRealm is { } realm &&
        _realms.TryGetValue(realm, out var cache) && cache.Auth.Unavailable is { } notice
            ? TokenUnavailable(ex, notice)
            : null;

    private void OnTokenDenied(Auth.TokenDenied denied)
    {
        if (!_realms.TryGetValue(denied.Realm, out var cache))
        {
            return;
        }

        cache.Denied(denied);
        Unready(); // next in line with a token of the ended session: they fail with the others
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
