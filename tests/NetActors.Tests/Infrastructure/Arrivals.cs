using System.Collections.Concurrent;
using System.Diagnostics;

namespace NetActors.Tests.Infrastructure;

/// <summary>When requests reached an upstream path (answered 200), and the rate they show.</summary>
public sealed class Arrivals
{
    private readonly ConcurrentQueue<long> _stamps = new();

    /// <summary>Answers <paramref name="path"/> with 200 and records each arrival.</summary>
    public Arrivals Install(TestUpstream upstream, string path)
    {
        upstream.Map(path, ctx =>
        {
            _stamps.Enqueue(Stopwatch.GetTimestamp());
            return TestUpstream.Write(ctx, 200, "{}");
        });
        return this;
    }

    public void Clear() => _stamps.Clear();

    /// <summary>Arrivals per second from the first to the last.</summary>
    public double PerSecond
    {
        get
        {
            var t = Sorted();
            return (t.Length - 1) / Stopwatch.GetElapsedTime(t[0], t[^1]).TotalSeconds;
        }
    }

    /// <summary>The most arrivals within any one second.</summary>
    public int MostInOneSecond()
    {
        var t = Sorted();
        return Enumerable.Range(0, t.Length)
            .Max(i => t.Skip(i).TakeWhile(x => Stopwatch.GetElapsedTime(t[i], x) < TimeSpan.FromSeconds(1)).Count());
    }

    private long[] Sorted()
    {
        var t = _stamps.ToArray();
        Array.Sort(t);
        return t;
    }
}
