using Akka.Actor;
using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>
/// Where a realm's <see cref="TokenActor"/> runs. In one process it is a child of the gateway; in cluster mode
/// it is a cluster singleton and the gateway gets a node-local stand-in (<c>Cluster.ClusterRealmClient</c>).
/// Either way the returned actor takes <see cref="GetToken"/>, <see cref="SignIn"/> and
/// <see cref="TerminateSession"/> and answers as the TokenActor does.
/// </summary>
internal interface IRealmPlacement
{
    /// <summary>Starts <paramref name="realm"/> under the gateway's <paramref name="context"/>.</summary>
    IActorRef Start(IUntypedActorContext context, RealmSettings realm, RealmServices services);
}

/// <summary>The realm's TokenActor is a child of the gateway: one process, one TokenActor per realm.</summary>
internal sealed class LocalRealmPlacement : IRealmPlacement
{
    public static readonly LocalRealmPlacement Instance = new();

    /// <summary>The name of the gateway's child that host actors talk to for <paramref name="realm"/>.</summary>
    public static string ActorName(RealmSettings realm) => "realm-" + Uri.EscapeDataString(realm.Name);

    public IActorRef Start(IUntypedActorContext context, RealmSettings realm, RealmServices services) =>
        context.ActorOf(TokenActor.Props(realm, services), ActorName(realm));
}
