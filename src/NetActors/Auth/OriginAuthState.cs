using System.Diagnostics;
using Akka.Actor;
using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>
/// What one origin's host actor knows about a realm beyond its current token, with no actor logic of its own: the token
/// versions the origin vouched for with a 2xx, the realm's last word that its token endpoint is failing, and when it last
/// told the realm that its token is in use. The host actor owns it (one per realm it serves) and calls it synchronously.
/// </summary>
internal sealed class OriginAuthState(RealmSettings realm, IActorRef tokenActor)
{
    private readonly HashSet<long> _vouched = [];
    private long _usedReportedAt;

    /// <summary>The realm's last notice that its token endpoint cannot be reached, until a token or a denial.</summary>
    public TokenUnavailable? Unavailable { get; set; }

    /// <summary>Whether a 2xx from this origin vouched for <paramref name="version"/> (and no bare 401 withdrew it since).</summary>
    public bool Vouched(long version) => _vouched.Contains(version);

    /// <summary>A 2xx for a request that carried <paramref name="version"/>.</summary>
    public void Vouch(long version)
    {
        if (_vouched.Add(version) && _vouched.Count > 4)
        {
            _vouched.Remove(_vouched.Min()); // only the newest versions can still be on the wire
        }
    }

    /// <summary>Records what a 401 decided about <paramref name="version"/>; true when the version is now rejected.</summary>
    public bool Apply(UnauthorizedDecision decision, long version)
    {
        if (decision.WithdrawVouch)
        {
            _vouched.Remove(version);
        }

        return decision.MarkRejected;
    }

    /// <summary>
    /// A request carries the token. With <c>idle-refresh-after</c> set, tells the TokenActor that the realm is in use, at
    /// most four times per idle period (nothing at all otherwise).
    /// </summary>
    public void Used(IActorRef self)
    {
        if (realm.IdleRefreshAfter is not { } idle)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(_usedReportedAt, now) >= idle / 4)
        {
            _usedReportedAt = now;
            tokenActor.Tell(new TokenInUse(realm.Name), self);
        }
    }

    /// <summary>The <c>Authorization</c> value for <paramref name="accessToken"/>: DPoP for a sender-constrained realm.</summary>
    public string AuthorizationFor(string accessToken) => (realm.DPoPKey is null ? "Bearer " : "DPoP ") + accessToken;
}
