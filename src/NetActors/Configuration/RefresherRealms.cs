namespace NetActors.Configuration;

/// <summary>
/// The realms that have a refresher delegate registered in C#, carried into the actor system beside the rest of
/// the C# registrations so that <see cref="NetActorsSettings.Create(Akka.Actor.ActorSystem)"/> can validate a
/// <c>refresh = delegate</c> realm without knowing the registrations themselves.
/// </summary>
internal sealed class RefresherRealms(IReadOnlySet<string> names) : Akka.Actor.Setup.Setup
{
    public IReadOnlySet<string> Names { get; } = names;
}
