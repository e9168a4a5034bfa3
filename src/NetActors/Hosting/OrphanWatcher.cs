using Akka.Actor;
using Akka.Event;
using NetActors.Errors;
using NetActors.Hosts;

namespace NetActors.Hosting;

/// <summary>
/// The last line of "every request gets exactly one outcome": a request that ends up in dead letters (its actor stopped, the system is
/// shutting down) is answered with <see cref="NetShutdownException"/> instead of hanging its caller.
/// </summary>
internal sealed class OrphanWatcher : ReceiveActor
{
    private OrphanWatcher()
    {
        Receive<AllDeadLetters>(letter =>
        {
            if (letter.Message is Exchange ex && ex.TryFail(new NetShutdownException(ex.Info())))
            {
                ex.Release();
            }
        });
    }

    public static Props Props() => ActorProps.Of(() => new OrphanWatcher());
}
