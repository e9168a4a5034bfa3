using Akka.Actor;
using Akka.Event;
using NetActors.Errors;
using NetActors.Hosts;

namespace NetActors.Hosting;

/// <summary>
/// The last line of "every request gets exactly one outcome": a request that ends up in dead letters (its actor stopped, the system is
/// shutting down) is answered instead of hanging its caller: with <see cref="NetShutdownException"/> while the system
/// shuts down, and otherwise with <see cref="NetRuntimeException"/> (its origin's actor stopped, for example because it
/// could not be created; the origin is created again on its next request, so the caller may send it again).
/// </summary>
internal sealed class OrphanWatcher : ReceiveActor
{
    private OrphanWatcher(NetActorsRuntime runtime, Configuration.NetActorsSettings settings)
    {
        var shutdown = CoordinatedShutdown.Get(Context.System);
        Receive<AllDeadLetters>(letter =>
        {
            if (letter.Message is NetRequest request)
            {
                if (letter is UnhandledMessage || letter.Recipient.Path.Name != GatewayName)
                {
                    return; // a NetRequest some other actor did not handle, or sent elsewhere: not the gateway's to answer
                }

                // Told or asked of the gateway after it stopped (the system shutting down): its sender is answered as
                // the gateway would have, so an Ask does not wait out its own timeout.
                if (!letter.Sender.IsNobody())
                {
                    var info = new NetRequestInfo(request.Client, request.Method?.Method ?? "(none)",
                        request.Url is null ? "(none)" : RedactionOf(settings, request.Client).Url(request.Url), 0);
                    letter.Sender.Tell(new Status.Failure(shutdown.ShutdownReason is not null || runtime.IsDisposed
                        ? new NetShutdownException(info)
                        : new NetRuntimeException(info, "the gateway stopped before it could take the request (see the log)", null)));
                }

                return;
            }

            if (letter.Message is Auth.SignIn or Auth.TerminateSession)
            {
                // A session call asked of the gateway after it stopped: answered, so its Ask (which has no timeout of
                // its own) does not wait for ever.
                if (letter is not UnhandledMessage && letter.Recipient.Path.Name == GatewayName && !letter.Sender.IsNobody())
                {
                    letter.Sender.Tell(new Status.Failure(shutdown.ShutdownReason is not null || runtime.IsDisposed
                        ? new NetShutdownException(null)
                        : new NetRuntimeException(null, "the gateway stopped before it could take the session call (see the log)", null)));
                }

                return;
            }

            if (letter.Message is not Exchange ex)
            {
                return;
            }

            Exception error = shutdown.ShutdownReason is not null || runtime.IsDisposed
                ? new NetShutdownException(ex.Info())
                : new NetRuntimeException(ex.Info(),
                    "its origin's actor stopped before it could take the request (see the log); the origin is created again on its next request", null);
            if (ex.TryFail(error))
            {
                ex.Release();
            }
        });
    }

    /// <summary>The gateway's actor name (<see cref="NetActorsRuntime"/> starts it under the user guardian).</summary>
    internal const string GatewayName = "netactors";

    /// <summary>The redaction the request's client uses (its own names and the runtime's), or the runtime's.</summary>
    private static RedactionSettings RedactionOf(Configuration.NetActorsSettings settings, string? client) =>
        client is not null && settings.Clients.TryGetValue(client, out var c) ? c.Redaction : settings.Redaction;

    public static Props Props(NetActorsRuntime runtime, Configuration.NetActorsSettings settings) =>
        ActorProps.Of(() => new OrphanWatcher(runtime, settings));
}
