using Akka.Actor;

namespace NetActors;

/// <summary>
/// Props from a factory delegate, so actors can keep private constructors with internal dependencies
/// (<c>Props.Create(() =&gt; new …)</c> needs a public constructor). Local only: such Props never cross nodes.
/// </summary>
internal static class ActorProps
{
    public static Props Of<TActor>(Func<TActor> factory) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TActor>(factory));

    private sealed class Producer<TActor>(Func<TActor> factory) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => factory();

        public void Release(ActorBase actor)
        {
        }
    }
}
