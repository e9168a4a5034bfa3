using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Infrastructure;

/// <summary>What a <see cref="CapacityEndpoint"/> does with a request beyond its capacity.</summary>
public enum BeyondCapacity
{
    /// <summary>It waits for a free place, and everything in service slows down with the queue (contention).</summary>
    Slow,

    /// <summary>It is answered 503 at once.</summary>
    Reject,
}

/// <summary>
/// An endpoint with a real capacity: it serves at most <see cref="Capacity"/> requests at once at its base latency.
/// Beyond that a request either waits for a place while each request served takes
/// <c>base × (1 + contention × waiting / capacity)</c> (a server that thrashes when over-committed: its throughput
/// falls as the queue grows), or is answered 503 at once. The capacity may change while it runs. Handle it with
/// <see cref="HandleAsync"/> from any route (the tests' <c>TestUpstream.Map</c>, the bench's server).
/// </summary>
public sealed class CapacityEndpoint(int capacity, TimeSpan baseLatency, BeyondCapacity beyond = BeyondCapacity.Slow,
    double contention = 0.25)
{
    private readonly object _gate = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private int _capacity = capacity;
    private int _serving;
    private long _served;
    private long _rejected;

    /// <summary>How many requests it serves at once; changing it lets waiters in (or makes new ones wait).</summary>
    public int Capacity
    {
        get => Volatile.Read(ref _capacity);
        set
        {
            lock (_gate)
            {
                _capacity = value;
                Admit();
            }
        }
    }

    /// <summary>Requests answered 200.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Requests answered 503.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Requests in service now.</summary>
    public int Serving => Volatile.Read(ref _serving);

    public async Task HandleAsync(HttpContext ctx)
    {
        TaskCompletionSource? wait = null;
        int waiting;
        lock (_gate)
        {
            if (_serving < _capacity)
            {
                _serving++;
            }
            else if (beyond == BeyondCapacity.Reject)
            {
                Interlocked.Increment(ref _rejected);
                ctx.Response.StatusCode = 503;
                return;
            }
            else
            {
                wait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(wait);
            }
        }

        try
        {
            if (wait is not null)
            {
                await wait.Task.WaitAsync(ctx.RequestAborted);
            }

            lock (_gate)
            {
                waiting = _waiting.Count;
            }

            var service = baseLatency * (1 + contention * waiting / Math.Max(1, Capacity));
            await Task.Delay(service, ctx.RequestAborted); // the server's own work, not a test's synchronisation
            Interlocked.Increment(ref _served);
            ctx.Response.StatusCode = 200;
            await ctx.Response.WriteAsync("{}");
        }
        finally
        {
            lock (_gate)
            {
                // A waiter whose client went away before it was let in never held a place (and never will).
                if (wait is null || !wait.TrySetCanceled())
                {
                    _serving--;
                }

                Admit();
            }
        }
    }

    private void Admit()
    {
        while (_serving < _capacity && _waiting.TryDequeue(out var next))
        {
            if (next.TrySetResult())
            {
                _serving++;
            }
        }
    }
}

/// <summary>
/// An endpoint that answers 429 above a rate: a token bucket of <c>rate</c> per second and a burst of
/// <c>burst</c>; it counts what it answered, with when, so a test can take the 429 share of any stretch of time.
/// </summary>
public sealed class RateLimitedEndpoint(double rate, double burst = 5)
{
    private readonly object _gate = new();
    private readonly List<(long At, bool Refused)> _answers = [];
    private readonly double _burst = burst;
    private double _tokens = burst;
    private long _stamp = Stopwatch.GetTimestamp();

    /// <summary>Answers since the start: when (a <see cref="Stopwatch"/> timestamp) and whether it was a 429.</summary>
    public IReadOnlyList<(long At, bool Refused)> Answers
    {
        get
        {
            lock (_gate)
            {
                return _answers.ToArray();
            }
        }
    }

    public Task HandleAsync(HttpContext ctx)
    {
        bool ok;
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + Stopwatch.GetElapsedTime(_stamp, now).TotalSeconds * rate);
            _stamp = now;
            ok = _tokens >= 1;
            if (ok)
            {
                _tokens -= 1;
            }

            _answers.Add((now, !ok));
        }

        ctx.Response.StatusCode = ok ? 200 : 429;
        return Task.CompletedTask;
    }
}
