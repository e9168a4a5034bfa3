using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>
/// What the C# builders registered that HOCON cannot hold (delegates, stores, callbacks), carried into the
/// actor system as an Akka <see cref="Akka.Actor.Setup.Setup"/>.
/// </summary>
internal sealed class NetActorsSetup(IReadOnlyDictionary<string, RealmRegistration> realms,
    IReadOnlyDictionary<string, Resilience.ClientHooks> clients) : Akka.Actor.Setup.Setup
{
    public IReadOnlyDictionary<string, RealmRegistration> Realms { get; } = realms;

    public IReadOnlyDictionary<string, Resilience.ClientHooks> Clients { get; } = clients;

    /// <summary>The realms with a refresher delegate, which the settings' validation is given.</summary>
    public RefresherRealms RefresherRealms { get; } =
        new(realms.Where(r => r.Value.Refresher is not null).Select(r => r.Key).ToHashSet(StringComparer.Ordinal));
}

/// <summary>A realm's C# registrations.</summary>
internal sealed class RealmRegistration
{
    public Func<TokenRefreshContext, CancellationToken, Task<TokenSet>>? Refresher { get; set; }

    public ITokenStore? Store { get; set; }

    public List<Action<SessionExpired>> OnExpired { get; } = [];

    public List<Action<TokenRefreshed>> OnRefreshed { get; } = [];
}
