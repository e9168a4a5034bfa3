using Akka.Event;

namespace NetActors.Auth;

/// <summary>Runs a realm's user callbacks for an event off the actor that raised it.</summary>
internal static class RealmCallbacks
{
    /// <summary>
    /// Runs <paramref name="callbacks"/> with <paramref name="event"/> on the thread pool, in order: a slow or
    /// throwing callback cannot stall or crash the actor; one that throws is logged and the next still runs.
    /// </summary>
    public static void Run<T>(T @event, IReadOnlyList<Action<T>> callbacks, ILoggingAdapter log)
    {
        if (callbacks.Count == 0)
        {
            return;
        }

        Task.Run(() =>
        {
            foreach (var callback in callbacks)
            {
                try
                {
                    callback(@event);
                }
                catch (Exception e)
                {
                    log.Error(e, "A {0} callback threw", typeof(T).Name);
                }
            }
        });
    }
}
