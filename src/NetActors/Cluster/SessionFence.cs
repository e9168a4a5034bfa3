using Akka.Event;

namespace NetActors.Cluster;

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
    public static bool IsOverdue(DateTimeOffset? deadline, DateTimeOffset now, ILoggingAdapter log, string realm, string call)
    {
        if (deadline is not { } due || now <= due)
        {
            return false;
        }

        log.Warning("Auth realm {0}: dropped a {1} that arrived {2:0} ms after its deadline (its caller was already told it failed)",
            realm, call, (now - due).TotalMilliseconds);
        return true;
    }
}
