using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>What <see cref="RetryPolicy.Decide"/> says about a failed attempt.</summary>
/// <param name="Delay">The wait before the next attempt, or null: the failure is final.</param>
/// <param name="ClassifierError">The exception the client's retry classifier threw, if it did (then no retry).</param>
/// <param name="SlowClassifier">How long the client's own classifier took, when it took more than 50 ms (else zero).</param>
internal readonly record struct RetryDecision(TimeSpan? Delay, Exception? ClassifierError = null, TimeSpan SlowClassifier = default)
{
    public static RetryDecision Final { get; } = new(null);
}

/// <summary>
/// Whether and when a failed attempt is retried, decided without actor state: only when it is safe (the method is
/// idempotent or the request carries an idempotency key: a POST or PATCH without one goes on the wire at most once),
/// the client's classifier calls the failure transient, attempts remain, and the wait (the server's
/// <c>Retry-After</c>, already capped, or exponential backoff with jitter) ends within the total timeout.
/// </summary>
internal static class RetryPolicy
{
    private static readonly TimeSpan SlowClassifier = TimeSpan.FromMilliseconds(50);

    private static readonly Func<NetException, bool> BuiltIn = RetryClassifier.IsTransient;

    /// <summary>
    /// Whether the request may go on the wire again (a retry, or a resend after a 401 or a DPoP nonce challenge):
    /// its method is idempotent or it carries an idempotency key. A POST or PATCH without one is sent at most once.
    /// </summary>
    public static bool MaySendAgain(Exchange ex) => RetryClassifier.IsIdempotent(ex.Method) || ex.IdempotencyKey is not null;

    /// <param name="ex">The exchange whose attempt failed.</param>
    /// <param name="failure">The typed failure, as its caller would see it.</param>
    /// <param name="retryAfter">The response's <c>Retry-After</c>, capped at <c>max-retry-after</c>, if any.</param>
    /// <param name="random">A number in [0, 1) for the jitter.</param>
    /// <param name="tolerance">How close to the total deadline a retry may still start.</param>
    public static RetryDecision Decide(Exchange ex, Exception failure, TimeSpan? retryAfter, double random, TimeSpan tolerance)
    {
        var retry = ex.Client.Retry;
        if (ex.Priority || failure is not NetException net || ex.Attempts >= retry.MaxAttempts ||
            (ex.IsCompleted && !ex.HasLiveFollowers))
        {
            return RetryDecision.Final;
        }

        if (!MaySendAgain(ex))
        {
            return RetryDecision.Final;
        }

        var classifier = ex.Hooks.IsTransient;
        var asked = System.Diagnostics.Stopwatch.GetTimestamp();
        bool transient;
        try
        {
            transient = classifier(net);
        }
        catch (Exception e)
        {
            return new RetryDecision(null, e);
        }

        // The client's own classifier runs on the origin's actor: one that blocks holds up the whole origin.
        var took = System.Diagnostics.Stopwatch.GetElapsedTime(asked);
        var slow = took > SlowClassifier && classifier.Method != BuiltIn.Method ? took : TimeSpan.Zero;
        if (!transient)
        {
            return RetryDecision.Final with { SlowClassifier = slow };
        }

        var delay = retryAfter ?? retry.DelayFor(ex.Attempts, random);
        return delay >= ex.Remaining - tolerance
            ? RetryDecision.Final with { SlowClassifier = slow } // it cannot happen within the total timeout: the caller gets the failure now
            : new RetryDecision(delay, null, slow);
    }
}
