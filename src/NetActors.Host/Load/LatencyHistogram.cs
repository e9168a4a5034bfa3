using HdrHistogram;

namespace NetActors.Host.Load;

/// <summary>
/// Latencies in an HDR histogram (HdrHistogram: 1 µs to one hour, three significant digits), so a long run keeps
/// a fixed size and percentiles are exact to 0.1 %. Recording is thread-safe (a concurrent histogram).
/// </summary>
internal sealed class LatencyHistogram
{
    private const long HighestMicroseconds = 3_600_000_000;
    private readonly LongConcurrentHistogram _histogram = new(1, HighestMicroseconds, 3);

    /// <summary>How many values were recorded.</summary>
    public long Count => _histogram.TotalCount;

    /// <summary>Records one latency (longer than an hour counts as an hour).</summary>
    public void Record(TimeSpan elapsed) =>
        _histogram.RecordValue(Math.Clamp((long)Math.Ceiling(elapsed.TotalMicroseconds), 1, HighestMicroseconds));

    /// <summary>The latency below which <paramref name="percentile"/> % of the values are, or null when empty.</summary>
    public TimeSpan? Percentile(double percentile) =>
        Count == 0 ? null : TimeSpan.FromMicroseconds(_histogram.GetValueAtPercentile(percentile));
}
