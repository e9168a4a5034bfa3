using NetActors.Host.Load;

namespace NetActors.Tests.Host;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_are_read_to_a_tenth_of_a_percent_from_the_hdr_histogram()
    {
        var histogram = new LatencyHistogram();
        Assert.Null(histogram.Percentile(50));

        Parallel.For(1, 10_001, i => histogram.Record(TimeSpan.FromMilliseconds(i / 10.0)));   // 0.1 ms .. 1,000 ms

        Assert.Equal(10_000, histogram.Count);
        Assert.InRange(histogram.Percentile(50)!.Value.TotalMilliseconds, 500 * 0.999, 500 * 1.001);
        Assert.InRange(histogram.Percentile(99)!.Value.TotalMilliseconds, 990 * 0.999, 990 * 1.001);
        histogram.Record(TimeSpan.FromDays(2));   // beyond the range counts as the highest value, never throws
        Assert.Equal(10_001, histogram.Count);
    }
}
