using System.Collections.Concurrent;
using NetActors.Configuration;
namespace NetActors.Hosts;

/// <summary>
/// The one book of what an origin holds. Every request the origin has accepted is in it, in exactly one state
/// (<see cref="Exchange.State"/>: on the wire, queued, waiting for a token, waiting out a retry delay or a pause,
/// following a shared call), from the moment it is admitted until it has its outcome and nothing of it is left on
/// the wire. The ledger, not each path through the host actor, enforces the bounds:
/// <list type="bullet">
/// <item>at most <c>max-connections</c> requests on the wire (<see cref="InFlight"/>; the actor checks
/// <see cref="HasFreeSlot"/> before it starts an attempt), and with adaptive concurrency at most the current
/// <see cref="Limit"/>, which never exceeds <c>max-connections</c>;</item>
/// <item>at most <c>max-connections + queue-capacity</c> requests held in all (every waiting state counts); a
/// request beyond that is refused by <see cref="TryEnter"/> before it is sent to the actor, so it is answered
/// <see cref="Errors.OverloadedException"/> at once, without waiting behind other messages in the mailbox.</item>
/// </list>
/// A request stops counting against the bound the moment its outcome is decided (<see cref="Exchange.TryClaim"/>),
/// before its caller can see it: a caller that sends again as soon as it has its answer finds its place free, even
/// when the host actor has not yet done the bookkeeping of the attempt (the slot on the wire is still the actor's
/// to free, so the cap holds). Token refreshes (priority exchanges) are never refused: the realm lets only one run at a time, and a refresh
/// must not fail because callers filled the queue. The ledger outlives restarts of the host actor, so a restarted
/// actor knows what is on the wire (the cap holds) and what waited (it is admitted again, nothing is lost).
/// </summary>
internal sealed class AdmissionLedger(int maxConnections, int queueCapacity, TimeProvider? time = null,
    CircuitBreakerSettings? circuitBreaker = null, Resilience.AdaptiveLimit? limit = null,
    Resilience.AdaptiveRate? rate = null)
{
    private readonly HashSet<Exchange> _members = new(Exchange.Identity);
    private int _admitted;
    private int _priority;

    /// <summary>The most requests held at once (on the wire and waiting).</summary>
    public int Capacity { get; } = maxConnections + queueCapacity;

    public int MaxConnections { get; } = maxConnections;

    public int QueueCapacity { get; } = queueCapacity;

    /// <summary>The requests on the wire (each holds a slot).</summary>
    public HashSet<Exchange> InFlight { get; } = new(Exchange.Identity);

    /// <summary>The origin's circuit: kept here so that a crash of the actor does not close an open circuit.</summary>
    public Resilience.CircuitBreaker Breaker { get; } = new(circuitBreaker ?? new CircuitBreakerSettings());

    /// <summary>Until when a <c>Retry-After</c> pauses the origin (kept here so that a crash does not end the pause).</summary>
    public DateTimeOffset PausedUntil { get; set; }

    /// <summary>The total deadlines of the exchanges that wait (kept here so a restart loses none).</summary>
    public DeadlineWheel Deadlines { get; } = new(time);

    /// <summary>The origin's adaptive concurrency limit, or null (kept here so that a crash does not reset what it learned).</summary>
    public Resilience.AdaptiveLimit? Limit { get; } = limit;

    /// <summary>The origin's adaptive rate, or null (kept here for the same reason).</summary>
    public Resilience.AdaptiveRate? Rate { get; } = rate;

    /// <summary>How many attempts may be on the wire now: <c>max-connections</c>, or the adaptive limit below it.</summary>
    public int SlotLimit => Limit is { } l ? Math.Min(MaxConnections, l.Current) : MaxConnections;

    /// <summary>True when another attempt may go on the wire.</summary>
    public bool HasFreeSlot => InFlight.Count < SlotLimit;

    /// <summary>Requests admitted whose outcome is not decided yet, priority ones excepted; safe to read from any thread.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>True when nothing at all is admitted (priority exchanges included); safe to read from any thread.</summary>
    public bool IsEmpty => Volatile.Read(ref _admitted) == 0 && Volatile.Read(ref _priority) == 0;

    /// <summary>The exchanges the actor holds (admitted, not finished). Only the host actor reads this.</summary>
    public IReadOnlyCollection<Exchange> Members => _members;

    /// <summary>Requests held off the wire: queued or in any waiting state.</summary>
    public int Waiting => _members.Count - InFlight.Count;

    /// <summary>
    /// Counts <paramref name="ex"/> against this origin, from any thread (the facade, the gateway), before it is
    /// sent to the host actor. False when the origin holds all it may: the caller answers the request
    /// <see cref="Errors.OverloadedException"/> itself. An exchange already counted here is not counted again.
    /// </summary>
    public bool TryEnter(Exchange ex)
    {
        if (ReferenceEquals(ex.Ledger, this))
        {
            return true;
        }

        if (ex.Priority)
        {
            Interlocked.Increment(ref _priority);
        }
        else
        {
            var current = Volatile.Read(ref _admitted);
            while (true)
            {
                if (current >= Capacity)
                {
                    return false;
                }

                var seen = Interlocked.CompareExchange(ref _admitted, current + 1, current);
                if (seen == current)
                {
                    break;
                }

                current = seen;
            }
        }

        ex.CountIn(this);
        return true;
    }

    /// <summary>An exchange counted here has its outcome, or moved away: its place is free. Any thread; once per count.</summary>
    internal void Uncount(bool priority)
    {
        if (priority)
        {
            Interlocked.Decrement(ref _priority);
        }
        else
        {
            Interlocked.Decrement(ref _admitted);
        }
    }

    // ---- the hand-off ------------------------------------------------------------------------------------

    // Made on the first hand-off: an origin that never has a backlog (most of them) does not carry its segment (~830 B).
    private ConcurrentQueue<Exchange>? _ready;
    private int _readyCount;

    /// <summary>How many exchanges are ready (made ready and neither taken nor reclaimed); any thread.</summary>
    public int ReadyCount => Volatile.Read(ref _readyCount);

    /// <summary>
    /// Entries in the hand-off's queue: the ready exchanges and those reclaimed one by one that no attempt dequeued
    /// yet (bounded by the host actor's compaction; read by the model test).
    /// </summary>
    internal int ReadyEntries => Volatile.Read(ref _ready)?.Count ?? 0;

    /// <summary>
    /// The host actor puts the head of its queue next in line, its message built (<see cref="Exchange.MakeReady"/>
    /// was called): the next attempt of this origin that completes starts it in the slot it frees, on its own
    /// thread, instead of telling the actor and waiting for it to start the next one. The slot passes from one
    /// attempt to the next; the count on the wire never rises.
    /// </summary>
    public void AddReady(Exchange ex)
    {
        var ready = Volatile.Read(ref _ready);
        if (ready is null)
        {
            Volatile.Write(ref _ready, ready = new ConcurrentQueue<Exchange>()); // published before any count says it holds one
        }

        Interlocked.Increment(ref _readyCount);
        ready.Enqueue(ex);
    }

    /// <summary>
    /// The first ready exchange, claimed for the caller to start (a completing attempt, or the actor when it has a
    /// free slot), or null. Entries the actor reclaimed are skipped. Any thread.
    /// </summary>
    public Exchange? TakeReady()
    {
        var ready = Volatile.Read(ref _ready);
        while (ready is not null && ready.TryDequeue(out var ex))
        {
            if (ex.TryTakeReady())
            {
                Interlocked.Decrement(ref _readyCount);
                return ex;
            }
        }

        return null;
    }

    /// <summary>The host actor takes one ready exchange back; false when an attempt took it first (it is on the wire).</summary>
    public bool Reclaim(Exchange ex)
    {
        if (!ex.TryReclaimReady())
        {
            return false;
        }

        Interlocked.Decrement(ref _readyCount);
        return true;
    }

    /// <summary>
    /// Empties the queue of entries the host actor already reclaimed one by one (an attempt that dequeued one a
    /// moment ago finds it reclaimed and skips it). Only the host actor, once it holds no ready exchange.
    /// </summary>
    public void DropStale()
    {
        if (Volatile.Read(ref _ready) is not { } ready)
        {
            return;
        }

        while (ready.TryDequeue(out _))
        {
        }
    }

    private int _unsettled;

    /// <summary>
    /// An attempt ended with something that can change what the next request may do (a failure, a 401, 408, 429, 5xx or
    /// redirect): until the actor has handled it, no completing attempt hands its slot on. A 429's pause, a failure that opens the circuit
    /// or a 401's refresh applies before the next request starts, as when the actor itself started every request.
    /// </summary>
    public void HoldHandOffs() => Interlocked.Increment(ref _unsettled);

    /// <summary>The actor handled such an attempt (whatever the outcome of handling it).</summary>
    public void HandOffsSettled() => Interlocked.Decrement(ref _unsettled);

    /// <summary>True while an attempt's report that the actor must decide on is in its mailbox; any thread.</summary>
    public bool HandOffsHeld => Volatile.Read(ref _unsettled) > 0;

    /// <summary>The host actor takes an exchange counted by <see cref="TryEnter"/> into its books.</summary>
    public void Hold(Exchange ex) => _members.Add(ex);

    /// <summary>
    /// The exchange leaves the origin: its outcome is delivered and nothing of it is on the wire, or it moved to
    /// another origin (a redirect). Idempotent. Only the host actor calls it.
    /// </summary>
    public void Leave(Exchange ex)
    {
        if (!ReferenceEquals(ex.Ledger, this))
        {
            return;
        }

        _members.Remove(ex);
        ex.LeaveLedger();
    }
}
