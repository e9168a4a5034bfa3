using Akka.Actor;
using NetActors.Errors;

namespace NetActors.Auth;

/// <summary>
/// Keeps a stale caller or a stale singleton from changing a newer session. The TokenActor calls it at the few
/// places where a session changes (each marked <c>fence:</c> there); the rules live here so that they can be
/// read and tested on their own.
/// </summary>
internal static class SessionFence
{
    /// <summary>
    /// True when a sign-in or a termination arrives after its deadline: its caller was already answered with a
    /// failure, so applying it now would change the session behind the caller's back (a copy the singleton proxy
    /// buffered while the cluster was unreachable, say). The call is dropped without an answer: an untagged
    /// answer could be taken for the answer to a newer call.
    /// </summary>
    public static bool IsOverdue(DateTimeOffset? deadline, DateTimeOffset now, AuthLog log, string realm, string call)
    {
        if (deadline is not { } due || now <= due)
        {
            return false;
        }

        log.DroppedOverdueCall(realm, call, (now - due).TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Whether a refresh failed because a newer singleton holds the session, or because this member is shutting
    /// down (its HTTP path is closing): the TokenActor then steps down instead of retrying.
    /// </summary>
    public static bool IsLost(Exception? error) => error is FenceLostException or SingletonStoppingException;

    /// <summary>
    /// Whether a TokenActor that steps down for <paramref name="reason"/> answers the requests it holds: yes for a
    /// lost fence (nobody else will answer them); no when its member shuts down (the members ask the next
    /// singleton once they see this one stop, and get their tokens from it).
    /// </summary>
    public static bool AnswersWaiters(Exception reason) => reason is not SingletonStoppingException;

    /// <summary>Says once why the TokenActor steps down: a warning for a lost fence, information for a shutdown.</summary>
    public static void LogStepDown(AuthLog log, string realm, Exception reason)
    {
        if (reason is SingletonStoppingException)
        {
            log.SteppingDownForShutdown(realm);
            return;
        }

        log.SteppingDown(realm, reason.Message);
    }

    /// <summary>
    /// How a TokenActor that stepped down answers: token requests are denied, session calls fail, subscriptions
    /// are not taken (the members find the live singleton). It never refreshes, saves or ends the session again.
    /// </summary>
    public static void AnswerSteppedDown(object message, IActorRef sender, string realm, Exception reason)
    {
        if (!AnswersWaiters(reason))
        {
            return; // shutting down: the members ask the next singleton once they see this one stop
        }

        const string Reason = "this instance of the realm's singleton stepped down: a newer one holds the session";
        switch (message)
        {
            case GetToken:
                sender.Tell(new TokenDenied(realm, TokenDenial.Failed, Reason));
                break;
            case SignIn or TerminateSession:
                sender.Tell(new Status.Failure(new ClusterUnavailableException(null, realm, Reason)));
                break;
        }
    }
}

/// <summary>The member running the realm's singleton is shutting down: the singleton stops refreshing.</summary>
internal sealed class SingletonStoppingException() : Exception("this member is shutting down");

/// <summary>A newer singleton holds the realm's session: this one must not refresh, save or end it.</summary>
internal sealed class FenceLostException(string realm, long incarnation, FenceToken newer)
    : Exception($"auth realm '{realm}': a newer singleton (incarnation {newer.Incarnation}) holds the session; " +
        $"this one (incarnation {incarnation}) steps down and leaves the session alone")
{
    /// <summary>The newer fence found in the store.</summary>
    public FenceToken Newer { get; } = newer;
}
