using Akka.Event;

namespace NetActors.Hosts;

/// <summary>
/// An attempt ended: with a response and its body, or with an error. <paramref name="Delivered"/> is the response
/// the attempt already handed to the caller (a plain success, see <see cref="AttemptRunner.RunAsync"/>); the actor
/// does the rest of the bookkeeping. A report that holds the origin's hand-offs until the actor has handled it is
/// one <see cref="AttemptRunner.HoldsHandOffs"/> answers true for, on both sides (it reads nothing that can change).
/// The reports of the slot hand-off are messages of their own, so the common one carries no field for them.
/// </summary>
internal record AttemptCompleted(
    Exchange Exchange,
    HttpResponseMessage? Response,
    ReadOnlyMemory<byte> Body,
    Exception? Error,
    NetResponse? Delivered = null) : IDeadLetterSuppression;

/// <summary>
/// A plain 2xx (<paramref name="Completed"/>) whose attempt handed its slot to <paramref name="Next"/>, the ready
/// exchange it took (see <see cref="AdmissionLedger.TakeReady"/>), and started it: the actor takes it into its
/// in-flight set as it takes the completed one out. <paramref name="Started"/> is false when <paramref name="Next"/>
/// is reported back unsent right after (its caller left, or its attempt could not be armed): its attempt is counted
/// only when one goes on the wire.
/// </summary>
internal sealed record SlotHandedOn(AttemptCompleted Completed, Exchange Next, bool Started) : IDeadLetterSuppression;

/// <summary>
/// A ready exchange taken for a freed slot after its own caller had left while it was next in line: reported back,
/// nothing went on the wire (see <see cref="AttemptRunner"/>).
/// </summary>
internal sealed record TakenNotSent(Exchange Exchange, Exception Error) : AttemptCompleted(Exchange, null, default, Error);

/// <summary>
/// A streamed attempt has its headers and its caller has (or is being handed) <paramref name="Result"/>, whose body
/// reads from the connection: the attempt counts now (circuit, metrics, log), but its slot stays taken until
/// <see cref="StreamEnded"/>.
/// </summary>
internal sealed record StreamStarted(Exchange Exchange, HttpResponseMessage Response, NetResponse Result) : IDeadLetterSuppression;

/// <summary>A streamed body ended (read to its end, failed, disposed, timed out or aborted): its slot is free.</summary>
internal sealed record StreamEnded(Exchange Exchange) : IDeadLetterSuppression;

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

/// <summary>Look whether the origin has been idle for <c>idle-origin-timeout</c>.</summary>
internal sealed class IdleCheck : IDeadLetterSuppression
{
    public static readonly IdleCheck Instance = new();
}

/// <summary>
/// Told to the gateway by an idle origin's host: remove it, unless something was admitted to
/// <paramref name="Ledger"/> meanwhile.
/// </summary>
internal sealed record OriginIdle(string Origin, AdmissionLedger Ledger) : IDeadLetterSuppression;

/// <summary>
/// Test-only: makes the host actor throw, to prove a crash loses no request. With <paramref name="Again"/> it first
/// sends itself another fault, which arrives before the restart's re-admissions: two crashes back to back.
/// </summary>
internal sealed record InjectFault(string Reason, bool Again = false);

/// <summary>Parses <c>Retry-After</c> in both its forms: delay-seconds and HTTP-date.</summary>
internal static class RetryAfter
{
    /// <summary>
    /// The delay the header asks for, between zero and <paramref name="max"/> (a server that says ten years, or a
    /// date in 9999, pauses an origin no longer than <c>max-retry-after</c>); null without a usable header.
    /// </summary>
    public static TimeSpan? From(System.Net.Http.Headers.RetryConditionHeaderValue? value, DateTimeOffset now, TimeSpan? max = null)
    {
        TimeSpan wait;
        if (value?.Delta is { } delta)
        {
            wait = delta;
        }
        else if (value?.Date is { } date)
        {
            wait = date - now;
        }
        else
        {
            return null;
        }

        return wait < TimeSpan.Zero ? TimeSpan.Zero : max is { } cap && wait > cap ? cap : wait;
    }
}
