using Akka.Event;
using NetActors.Errors;
using NetActors.Resilience;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace NetActors.Hosts;

/// <summary>HostActor: retries of transient failures, on actor timers.</summary>
internal sealed partial class HostActor
{
    // ---- retries -----------------------------------------------------------------------------------------

    /// <summary>
    /// Schedules a retry when it is safe and useful: the request is idempotent (or carries a key), the classifier
    /// calls the failure transient, attempts remain, and the delay fits in the total timeout.
    /// </summary>
    private bool TryRetry(Exchange ex, Exception failure, TimeSpan? retryAfter)
    {
        var retry = ex.Client.Retry;
        if (ex.Priority || failure is not NetException net || ex.Attempts >= retry.MaxAttempts ||
            _drainReply is not null || (ex.IsCompleted && !ex.HasLiveFollowers))
        {
            return false;
        }

        if (!RetryClassifier.IsIdempotent(ex.Method) && ex.IdempotencyKey is null)
        {
            return false; // invariant 5: a POST or PATCH without a key goes on the wire at most once
        }

        bool transient;
        try
        {
            transient = ex.Hooks.IsTransient(net);
        }
        catch (Exception e)
        {
            _log.Error(e, "The retry classifier of client {Client} threw; not retrying", ex.Request.Client);  // ecosystem: named template
            return false;
        }

        if (!transient)
        {
            return false;
        }

        var delay = retryAfter ?? retry.DelayFor(ex.Attempts, Random.Shared.NextDouble());
        if (delay >= ex.Remaining - DeadlineTolerance)
        {
            return false; // it cannot happen within the total timeout: the caller gets the failure now
        }

        ex.State = ExchangeState.WaitingForRetry;
        ArmTotal(ex);
        _retrying.Add(ex);
        Timers.StartSingleTimer(ex, new RetryDue(ex), delay);
        _context.Runtime.Metrics.Retries.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        if (_context.Log.IsEnabled(LogLevel.Information))
        {
            _context.Log.Retrying(ex.Method.Method, ex.Redaction.Url(ex.Target!), delay.TotalMilliseconds, ex.Attempts,
                failure.GetType().Name);
        }

        return true;
    }

    private void OnRetryDue(Exchange ex)
    {
        if (!_retrying.Remove(ex))
        {
            return;
        }

        if (ex.IsCompleted && !ex.HasLiveFollowers)
        {
            Drop(ex);
            return;
        }

        Enqueue(ex, front: true);
        PumpQueue();
    }
}
