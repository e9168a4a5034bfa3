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

    public LinkedList<Exchange> Waiting { get; } = new();

    /// <summary>auth: the realm's last word that its token endpoint cannot be reached, until a token or denial.</summary>
    public TokenUnavailable? Unavailable { get; private set; }

    /// <summary>auth: the token endpoint is failing; the next exchange that waits asks again (it may start the retry).</summary>
    public void Delayed(TokenUnavailable notice)
    {
        Unavailable = notice;
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

    private long _usedReportedAt;

    /// <summary>
    /// auth: a request carries the token. With <c>idle-refresh-after</c> set, tells the TokenActor that the realm is
    /// in use, at most four times per idle period (nothing at all otherwise).
    /// </summary>
    public void Used(IActorRef self)
    {
        if (Route.Settings.IdleRefreshAfter is not { } idle)
        {
            return;
        }

        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (System.Diagnostics.Stopwatch.GetElapsedTime(_usedReportedAt, now) >= idle / 4)
        {
            _usedReportedAt = now;
            Route.TokenActor.Tell(new TokenInUse(Route.Settings.Name), self);
        }
    }

    /// <summary>auth: token versions a 2xx from this origin vouched for (and no bare 401 withdrew since).</summary>
    private readonly HashSet<long> _vouched = [];

    public bool Vouched(long version) => _vouched.Contains(version);

    public void Vouch(long version)
    {
        if (_vouched.Add(version) && _vouched.Count > 4)
        {
            _vouched.Remove(_vouched.Min()); // only the newest versions can still be on the wire
        }
    }

    /// <summary>auth: records what a 401 decided about <paramref name="version"/>.</summary>
    public void Apply(UnauthorizedDecision decision, long version)
    {
        if (decision.MarkRejected)
        {
            Rejected(version);
        }

        if (decision.WithdrawVouch)
        {
            _vouched.Remove(version);
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
            Authorization = (Route.Settings.DPoP is null ? "Bearer " : "DPoP ") + granted.AccessToken; // auth: DPoP token type
            Version = granted.Version;
            ExpiresAt = granted.ExpiresAt;
        }

        EndedReason = null;
        Unavailable = null; // auth:
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

        Unavailable = null; // auth:
        _askedFor = -1;
    }
}
