using System.Globalization;

namespace NetActors.Host.Load;

/// <summary>A plain-text table for the console: the first column left-aligned, the others right-aligned.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    /// <summary>Adds a row (cells beyond the headers are dropped, missing ones are blank).</summary>
    public TextTable Add(params object?[] cells)
    {
        _rows.Add(headers.Select((_, i) => i < cells.Length ? Format(cells[i]) : string.Empty).ToArray());
        return this;
    }

    /// <summary>Writes the table, indented by <paramref name="indent"/>.</summary>
    public void WriteTo(TextWriter output, string indent = "  ")
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        output.WriteLine(indent + Line(headers, widths).TrimEnd());
        output.WriteLine(indent + string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in _rows)
        {
            output.WriteLine(indent + Line(row, widths).TrimEnd());
        }
    }

    private static string Line(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])));

    private static string Format(object? value) => value switch
    {
        null => string.Empty,
        double d => d.ToString("0.0", CultureInfo.InvariantCulture),
        TimeSpan t => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
