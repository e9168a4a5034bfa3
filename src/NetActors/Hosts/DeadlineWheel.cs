using System.Diagnostics;

namespace NetActors.Hosts;

/// <summary>
/// The total deadlines of one host's exchanges while they wait (queued, for a token, for a retry delay, on a
/// shared request): a hashed timing wheel of 10 ms slots whose lists run through the exchanges themselves, so
/// arming, moving and dropping a deadline cost O(1) and allocate nothing. This replaces a cancellation source
/// with its own timer per request. The host actor drives it with one actor timer, set for the slot of the
/// earliest deadline; a deadline fires at most one slot (plus the scheduler's tick) late, never early. While an
/// attempt is on the wire its deadline is the attempt's own cancellation source, which also aborts the call.
/// The wheel starts small (an origin with few waiting requests, of which there may be thousands, costs little)
/// and grows with the number of deadlines it holds, so a slot's list stays short. It lives in the host's ledger,
/// so it survives a restart of the actor; only the actor that owns it uses it.
/// </summary>
internal sealed class DeadlineWheel(TimeProvider? time = null)
{
    private const int FirstSlotCount = 16;
    private const int MaxSlotCount = 1024;

    /// <summary>The width of one slot in <see cref="Stopwatch"/> ticks (10 ms), for the system clock.</summary>
    internal static readonly long SlotTicks = Stopwatch.Frequency / 100;

    /// <summary>The clock whose timestamps the deadlines are in.</summary>
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The width of one slot in the clock's timestamp ticks (10 ms).</summary>
    private readonly long _slotTicks = (time ?? TimeProvider.System).TimestampFrequency / 100;

    /// <summary>Made on first use; a deadline later than one round waits in its slot for the rounds before it.</summary>
    private Exchange?[]? _slots;

    /// <summary>The number of the first slot that may still hold a deadline that has not passed.</summary>
    private long _cursor;

    /// <summary>How many exchanges are in the wheel.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Puts <paramref name="ex"/> in (or moves it to) the slot of its total deadline and returns when that slot is
    /// due, as a <see cref="Stopwatch"/> timestamp.
    /// </summary>
    public long Add(Exchange ex)
    {
        Remove(ex);
        if (Count == 0)
        {
            _cursor = _time.GetTimestamp() / _slotTicks; // nothing pending: no earlier slot needs a visit
        }

        _slots ??= new Exchange?[FirstSlotCount];
        if (Count >= 2 * _slots.Length && _slots.Length < MaxSlotCount)
        {
            Grow();
        }

        return Link(ex);
    }

    /// <summary>Takes <paramref name="ex"/> out of the wheel, if it is in.</summary>
    public void Remove(Exchange ex)
    {
        if (ex.WheelSlot < 0)
        {
            return;
        }

        if (ex.WheelPrevious is { } previous)
        {
            previous.WheelNext = ex.WheelNext;
        }
        else
        {
            _slots![ex.WheelSlot] = ex.WheelNext;
        }

        if (ex.WheelNext is { } next)
        {
            next.WheelPrevious = ex.WheelPrevious;
        }

        ex.WheelNext = null;
        ex.WheelPrevious = null;
        ex.WheelSlot = -1;
        Count--;
    }

    /// <summary>Takes out every exchange whose total deadline is at or before <paramref name="now"/>.</summary>
    public void Expire(long now, List<Exchange> expired)
    {
        var last = now / _slotTicks;
        if (Count > 0)
        {
            var slots = _slots!;
            var first = Math.Max(_cursor, last - slots.Length + 1);
            for (var number = first; number <= last && Count > 0; number++)
            {
                var ex = slots[(int)(number % slots.Length)];
                while (ex is not null)
                {
                    var next = ex.WheelNext;
                    if (ex.TotalDeadline <= now)
                    {
                        Remove(ex);
                        expired.Add(ex);
                    }

                    ex = next;
                }
            }
        }

        // The current slot may still hold deadlines later in it (or in later rounds): it is visited again.
        _cursor = last;
    }

    /// <summary>When the slot of the earliest deadline is due (a <see cref="Stopwatch"/> timestamp), or null.</summary>
    public long? NextDue()
    {
        if (Count == 0)
        {
            return null;
        }

        // The first slot of this round that holds a deadline of this round; failing that (all are in later
        // rounds), the earliest deadline of all.
        var slots = _slots!;
        for (var number = _cursor; number < _cursor + slots.Length; number++)
        {
            for (var ex = slots[(int)(number % slots.Length)]; ex is not null; ex = ex.WheelNext)
            {
                if (ex.TotalDeadline / _slotTicks <= number)
                {
                    return (number + 1) * _slotTicks;
                }
            }
        }

        var earliest = long.MaxValue;
        foreach (var head in slots)
        {
            for (var ex = head; ex is not null; ex = ex.WheelNext)
            {
                earliest = Math.Min(earliest, ex.TotalDeadline);
            }
        }

        return (earliest / _slotTicks + 1) * _slotTicks;
    }

    private long Link(Exchange ex)
    {
        var slots = _slots!;
        var number = Math.Max(ex.TotalDeadline / _slotTicks, _cursor);
        var slot = (int)(number % slots.Length);
        var head = slots[slot];
        ex.WheelNext = head;
        ex.WheelPrevious = null;
        if (head is not null)
        {
            head.WheelPrevious = ex;
        }

        slots[slot] = ex;
        ex.WheelSlot = slot;
        Count++;
        return (number + 1) * _slotTicks;
    }

    /// <summary>Four times the slots, every deadline moved to its slot in the bigger wheel.</summary>
    private void Grow()
    {
        var old = _slots!;
        _slots = new Exchange?[Math.Min(old.Length * 4, MaxSlotCount)];
        Count = 0;
        foreach (var head in old)
        {
            var ex = head;
            while (ex is not null)
            {
                var next = ex.WheelNext;
                Link(ex);
                ex = next;
            }
        }
    }
}
