using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace NetActors.Hosts;

/// <summary>HostActor: retries of transient failures, on actor timers.</summary>
internal sealed partial class HostActor
{
    // ---- retries -----------------------------------------------------------------------------------------

    /// <summary>Schedules a retry when <see cref="RetryPolicy"/> allows one; false when the failure is final.</summary>
    private bool TryRetry(Exchange ex, Exception failure, TimeSpan? retryAfter)
    {
        if (_drainReply is not null)
        {
            return false;
        }

        var decision = RetryPolicy.Decide(ex, failure, retryAfter, _context.Random(), DeadlineTolerance);
        if (decision.ClassifierError is { } error)
        {
            _log.Error(error, "The retry classifier of client {Client} threw; not retrying", ex.Request.Client);
        }

        if (decision.SlowClassifier is { Ticks: > 0 } took)
        {
            // The classifier is a synchronous predicate the actor calls: while it runs, every request of this origin
            // waits (its answers, its timeouts). Said loudly, because nothing else shows it.
            _log.Warning("The retry classifier of client {Client} took {Milliseconds:0} ms on the origin's actor; " +
                         "it must return at once (no I/O, no locks): every request of {Origin} waited meanwhile",
                ex.Request.Client, took.TotalMilliseconds, _origin);
        }

        if (decision.Delay is not { } delay)
        {
            return false;
        }

        ex.RetryDueAt = Now + delay;
        WaitForRetry(ex, delay);
        _context.Metrics.Retries.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        if (_context.Log.IsEnabled(LogLevel.Information))
        {
            _context.Log.Retrying(ex.Method.Method, ex.Redaction.Url(ex.Target!), delay.TotalMilliseconds, ex.Attempts,
                failure.GetType().Name);
        }

        return true;
    }

    /// <summary>The exchange waits out its retry delay here, holding no slot.</summary>
    private void WaitForRetry(Exchange ex, TimeSpan delay)
    {
        ex.State = ExchangeState.WaitingForRetry;
        ArmTotal(ex);
        _retrying.Add(ex);
        Timers.StartSingleTimer(ex, new RetryDue(ex), delay);
    }

    private void OnRetryDue(Exchange ex)
    {
        if (!_retrying.Remove(ex))
        {
            return;
        }

        ex.RetryDueAt = null;

        if (ex.IsCompleted && !ex.HasLiveFollowers)
        {
            Drop(ex);
            return;
        }

        Enqueue(ex, front: true);
        PumpQueue();
    }
}
