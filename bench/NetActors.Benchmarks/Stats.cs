using System.Diagnostics;
using System.Globalization;

namespace NetActors.Benchmarks;

/// <summary>Median, min and max of one figure over the rounds.</summary>
internal readonly record struct Summary(double Median, double Min, double Max)
{
    public static Summary Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return new Summary(double.NaN, double.NaN, double.NaN);
        }

        var mid = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return new Summary(median, sorted[0], sorted[^1]);
    }

    /// <summary>"median [min–max]" with <paramref name="decimals"/> decimals.</summary>
    public string Format(int decimals) =>
        $"{Stats.Number(Median, decimals)} [{Stats.Number(Min, decimals)}–{Stats.Number(Max, decimals)}]";
}

internal static class Stats
{
    /// <summary>The value at percentile <paramref name="p"/> (0–100) of sorted Stopwatch ticks, in ms.</summary>
    public static double PercentileMs(long[] sortedTicks, int count, double p)
    {
        if (count == 0)
        {
            return double.NaN;
        }

        var index = (int)Math.Ceiling(p / 100 * count) - 1;
        return sortedTicks[Math.Clamp(index, 0, count - 1)] * 1000.0 / Stopwatch.Frequency;
    }

    /// <summary>Invariant, with thousands separators.</summary>
    public static string Number(double value, int decimals) =>
        double.IsNaN(value) ? "n/a" : value.ToString("N" + decimals, CultureInfo.InvariantCulture);

    /// <summary>"×0.52": a figure as a ratio to the same figure of raw.</summary>
    public static string Ratio(double value, double baseline) =>
        baseline is 0 or double.NaN || double.IsNaN(value) ? "n/a" : "×" + (value / baseline).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>A full, blocking collection, so memory figures hold live objects only.</summary>
    public static void FullGc()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
