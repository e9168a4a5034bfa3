namespace NetActors.Host.Load;

/// <summary>
/// Latencies in logarithmic buckets (5 % wide, 0.1 ms to about an hour), so a long run keeps a fixed size.
/// Percentiles are read as the upper edge of their bucket. Thread-safe.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Ratio = 1.05;
    private const double MinMs = 0.1;
    private static readonly int BucketCount = (int)Math.Ceiling(Math.Log(3_600_000 / MinMs) / Math.Log(Ratio)) + 1;
    private readonly long[] _buckets = new long[BucketCount];
    private long _count;

    /// <summary>How many values were recorded.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Records one latency.</summary>
    public void Record(TimeSpan elapsed)
    {
        var ms = Math.Max(elapsed.TotalMilliseconds, MinMs);
        var index = Math.Min((int)Math.Ceiling(Math.Log(ms / MinMs) / Math.Log(Ratio)), BucketCount - 1);
        Interlocked.Increment(ref _buckets[index]);
        Interlocked.Increment(ref _count);
    }

    /// <summary>The latency below which <paramref name="percentile"/> % of the values are, or null when empty.</summary>
    public TimeSpan? Percentile(double percentile)
    {
        var count = Count;
        if (count == 0)
        {
            return null;
        }

        var rank = (long)Math.Ceiling(count * percentile / 100.0);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += Interlocked.Read(ref _buckets[i]);
            if (seen >= rank)
            {
                return TimeSpan.FromMilliseconds(MinMs * Math.Pow(Ratio, i));
            }
        }

        return TimeSpan.FromMilliseconds(MinMs * Math.Pow(Ratio, BucketCount - 1));
    }
}
