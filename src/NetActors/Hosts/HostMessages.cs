using Akka.Event;

namespace NetActors.Hosts;

/// <summary>
/// What a host actor must not forget across a restart: the requests it has on the wire. (They finish on their
/// own; forgetting them would let a restarted actor exceed the connection cap.)
/// </summary>
internal sealed class HostLedger
{
    public HashSet<Exchange> InFlight { get; } = new(Exchange.Identity);

    /// <summary>The total deadlines of the exchanges that wait (kept here so a restart loses none).</summary>
    public DeadlineWheel Deadlines { get; } = new();
}

/// <summary>
/// An attempt ended: with a response and its body, or with an error. <paramref name="Delivered"/> is the response
/// the attempt already handed to the caller (a plain success, see <c>HostActor.RunAttemptAsync</c>); the actor
/// does the rest of the bookkeeping.
/// </summary>
internal sealed record AttemptCompleted(
    Exchange Exchange,
    HttpResponseMessage? Response,
    ReadOnlyMemory<byte> Body,
    Exception? Error,
    NetResponse? Delivered = null) : IDeadLetterSuppression;

/// <summary>A retry delay is over.</summary>
internal sealed record RetryDue(Exchange Exchange) : IDeadLetterSuppression;

/// <summary>The earliest slot of the host's deadline wheel is due.</summary>
internal sealed class DeadlinesDue : IDeadLetterSuppression
{
    public static readonly DeadlinesDue Instance = new();
}

/// <summary>Try the queue again (after a rate-limit wait).</summary>
internal sealed class Pump : IDeadLetterSuppression
{
    public static readonly Pump Instance = new();
}

/// <summary>An open circuit's break duration is over.</summary>
internal sealed class CircuitProbeDue : IDeadLetterSuppression
{
    public static readonly CircuitProbeDue Instance = new();
}

/// <summary>Graceful shutdown of a host: answer <see cref="Drained"/> when nothing is on the wire.</summary>
internal sealed class Drain
{
    public static readonly Drain Instance = new();
}

/// <summary>Nothing is on the wire anymore.</summary>
internal sealed class Drained
{
    public static readonly Drained Instance = new();
}

/// <summary>Test-only: makes the host actor throw, to prove a crash loses no request.</summary>
internal sealed record InjectFault(string Reason);

/// <summary>Parses <c>Retry-After</c> in both its forms: delay-seconds and HTTP-date.</summary>
internal static class RetryAfter
{
    public static TimeSpan? From(System.Net.Http.Headers.RetryConditionHeaderValue? value, DateTimeOffset now)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (value.Date is { } date)
        {
            var wait = date - now;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }
}
