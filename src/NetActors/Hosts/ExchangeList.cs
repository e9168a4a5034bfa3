namespace NetActors.Hosts;

/// <summary>
/// A host's FIFO of exchanges (its queue, its priority queue, a realm's waiting list), linked through the exchanges
/// themselves: adding one allocates nothing, and removing one from the middle (cancelled, expired) is O(1). An
/// exchange is in at most one list at a time (<see cref="Exchange.QueueList"/>). Used on the actor only.
/// </summary>
internal sealed class ExchangeList
{
    public Exchange? First { get; private set; }

    public Exchange? Last { get; private set; }

    public int Count { get; private set; }

    public void AddLast(Exchange ex)
    {
        Attach(ex);
        ex.QueuePrevious = Last;
        if (Last is null)
        {
            First = ex;
        }
        else
        {
            Last.QueueNext = ex;
        }

        Last = ex;
    }

    public void AddFirst(Exchange ex)
    {
        Attach(ex);
        ex.QueueNext = First;
        if (First is null)
        {
            Last = ex;
        }
        else
        {
            First.QueuePrevious = ex;
        }

        First = ex;
    }

    /// <summary>Takes <paramref name="ex"/> out; false when it is not in this list.</summary>
    public bool Remove(Exchange ex)
    {
        if (!ReferenceEquals(ex.QueueList, this))
        {
            return false;
        }

        if (ex.QueuePrevious is { } previous)
        {
            previous.QueueNext = ex.QueueNext;
        }
        else
        {
            First = ex.QueueNext;
        }

        if (ex.QueueNext is { } next)
        {
            next.QueuePrevious = ex.QueuePrevious;
        }
        else
        {
            Last = ex.QueuePrevious;
        }

        ex.ForgetQueue();
        Count--;
        return true;
    }

    /// <summary>The exchanges in order, copied (the caller may remove them as it goes).</summary>
    public List<Exchange> ToList()
    {
        var all = new List<Exchange>(Count);
        for (var ex = First; ex is not null; ex = ex.QueueNext)
        {
            all.Add(ex);
        }

        return all;
    }

    private void Attach(Exchange ex)
    {
        if (ex.QueueList is not null)
        {
            throw new InvalidOperationException("An exchange is in one list at a time.");
        }

        ex.QueueList = this;
        Count++;
    }
}
