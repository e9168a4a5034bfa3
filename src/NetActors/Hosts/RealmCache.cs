using Akka.Actor;
using NetActors.Auth;

namespace NetActors.Hosts;

/// <summary>
/// A host actor's view of one realm's token: the newest token it was granted, the newest version it saw
/// rejected, and the exchanges waiting for a token (they hold no connection slot). It asks the realm's
/// TokenActor at most once per stale version, however many exchanges wait.
/// </summary>
internal sealed class RealmCache(RealmRoute route)
{
    private long _askedFor = -1;

    public RealmRoute Route { get; } = route;

    public string? Token { get; private set; }

    /// <summary>The Authorization header value for <see cref="Token"/>, made once per token, not per request.</summary>
    public string? Authorization { get; private set; }

    public long Version { get; private set; }

    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>The newest version a 401 was seen for; tokens up to it are not sent again.</summary>
    public long RejectedVersion { get; private set; }

    /// <summary>Why the session ended, while it is ended: authenticated requests fail fast.</summary>
    public string? EndedReason { get; private set; }

    public ExchangeList Waiting { get; } = new();

    /// <summary>auth: vouching, outage notices and use reports of the realm on this origin.</summary>
    public OriginAuthState Auth { get; } = new(route.Settings, route.TokenActor);

    /// <summary>auth: the token endpoint is failing; the next exchange that waits asks again (it may start the retry).</summary>
    public void Delayed(TokenUnavailable notice)
    {
        Auth.Unavailable = notice;
        _askedFor = -1;
    }

    public bool IsUsable(DateTimeOffset now) =>
        Token is not null && Version > RejectedVersion && TokenUsability.IsUsable(ExpiresAt, now);

    public void Rejected(long version)
    {
        if (version > RejectedVersion)
        {
            RejectedVersion = version;
        }
    }

    /// <summary>Asks the TokenActor for a token newer than <paramref name="staleVersion"/>, unless already asked.</summary>
    public void Ask(long staleVersion, IActorRef self)
    {
        if (staleVersion <= _askedFor)
        {
            return;
        }

        _askedFor = staleVersion;
        Route.TokenActor.Tell(new GetToken(Route.Settings.Name, staleVersion), self);
    }

    public void Granted(TokenGranted granted)
    {
        if (granted.Version >= Version)
        {
            Token = granted.AccessToken;
            Authorization = Auth.AuthorizationFor(granted.AccessToken); // DPoP token type
            Version = granted.Version;
            ExpiresAt = granted.ExpiresAt;
        }

        EndedReason = null;
        Auth.Unavailable = null;
        _askedFor = -1;
    }

    public void Denied(TokenDenied denied)
    {
        if (denied.Denial == TokenDenial.SessionExpired)
        {
            Token = null;
            Authorization = null;
            EndedReason = denied.Reason;
        }

        Auth.Unavailable = null;
        _askedFor = -1;
    }
}
