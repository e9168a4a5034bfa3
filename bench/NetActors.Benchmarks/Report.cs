using System.Reflection;
using System.Text;

namespace NetActors.Benchmarks;

/// <summary>One table of the report, with notes under it.</summary>
internal sealed class Section(string title, params string[] header)
{
    public string Title { get; } = title;

    public string[] Header { get; } = header;

    public List<string[]> Rows { get; } = [];

    public List<string> Notes { get; } = [];

    public Section Row(params string[] cells)
    {
        Rows.Add(cells);
        return this;
    }

    public Section Note(string note)
    {
        Notes.Add(note);
        return this;
    }
}

/// <summary>The results: printed as aligned tables, written as Markdown.</summary>
internal sealed class Report(IReadOnlyList<string> preamble)
{
    private readonly List<Section> _sections = [];

    public void Add(Section section)
    {
        _sections.Add(section);
        Console.Error.WriteLine($"  done: {section.Title}");
    }

    /// <summary>
    /// Per client: req/s, p50, p99, CPU and allocations per request, each "median [min–max]" over the rounds
    /// and as a ratio of medians to raw; and the most concurrent requests the server saw.
    /// </summary>
    public static Section ClientComparison(string title, IReadOnlyDictionary<string, List<Measurement>> byClient)
    {
        var section = new Section(title, "client", "req/s", "×raw", "p50 ms", "×raw", "p99 ms", "×raw",
            "CPU µs/req", "×raw", "alloc B/req", "×raw", "server max conc");
        Func<Measurement, double>[] figures =
        [
            m => m.RequestsPerSecond, m => m.P50Ms, m => m.P99Ms, m => m.CpuUsPerRequest,
            m => m.AllocatedBytesPerRequest,
        ];
        int[] decimals = [0, 2, 2, 1, 0];
        var raw = byClient.GetValueOrDefault(BenchClients.Raw);
        foreach (var (client, runs) in byClient)
        {
            var cells = new List<string> { client };
            for (var f = 0; f < figures.Length; f++)
            {
                var summary = Summary.Of(runs.Select(figures[f]));
                cells.Add(summary.Format(decimals[f]));
                cells.Add(raw is null ? "n/a" : Stats.Ratio(summary.Median, Summary.Of(raw.Select(figures[f])).Median));
            }

            cells.Add(Stats.Number(runs.Max(m => m.ServerMaxConcurrency), 0));
            section.Row([.. cells]);
            AddProblems(section, client, runs);
        }

        return section;
    }

    /// <summary>
    /// Notes any errors or time-outs, so a broken run never passes for a slow one, and any run where the server
    /// received another number of requests than were sent (retried, or deduplicated).
    /// </summary>
    public static void AddProblems(Section section, string client, IEnumerable<Measurement> runs)
    {
        foreach (var m in runs)
        {
            if (m.Errors > 0 || m.TimedOut)
            {
                section.Note($"**{client}: {m.Errors} errors{(m.TimedOut ? ", stopped at the time limit" : "")}** " +
                             $"(first: {m.FirstError})");
            }

            if (m.ServerRequests != m.Requests)
            {
                section.Note($"**{client}: {m.Requests:N0} requests sent, {m.ServerRequests:N0} received by the server**");
            }
        }
    }

    /// <summary>Writes the Markdown to results-<paramref name="mode"/>.md beside the project and says where on stderr.</summary>
    public async Task WriteResultsAsync(string mode)
    {
        var projectDirectory = typeof(BenchSettings).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ProjectDirectory")?.Value ?? Directory.GetCurrentDirectory();
        var resultsFile = Path.Combine(projectDirectory, $"results-{mode}.md");
        await File.WriteAllTextAsync(resultsFile, ToMarkdown());
        Console.Error.WriteLine($"written: {resultsFile}");
    }

    public string ToText()
    {
        var sb = new StringBuilder();
        foreach (var line in preamble)
        {
            sb.AppendLine(line);
        }

        foreach (var section in _sections)
        {
            sb.AppendLine().AppendLine($"== {section.Title}");
            AppendTable(sb, section, markdown: false);
            foreach (var note in section.Notes)
            {
                sb.AppendLine($"  * {note.Replace("**", "", StringComparison.Ordinal)}");
            }
        }

        return sb.ToString();
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("# NetActors benchmarks").AppendLine();
        foreach (var line in preamble)
        {
            sb.AppendLine($"- {line}");
        }

        foreach (var section in _sections)
        {
            sb.AppendLine().AppendLine($"## {section.Title}").AppendLine();
            AppendTable(sb, section, markdown: true);
            if (section.Notes.Count > 0)
            {
                sb.AppendLine();
                foreach (var note in section.Notes)
                {
                    sb.AppendLine($"- {note}");
                }
            }
        }

        return sb.ToString();
    }

    private static void AppendTable(StringBuilder sb, Section section, bool markdown)
    {
        var columns = section.Header.Length;
        var widths = new int[columns];
        foreach (var row in section.Rows.Prepend(section.Header))
        {
            for (var c = 0; c < columns; c++)
            {
                widths[c] = Math.Max(widths[c], Cell(row, c).Length);
            }
        }

        string Line(string[] row) => markdown
            ? "| " + string.Join(" | ", Enumerable.Range(0, columns).Select(c => Pad(Cell(row, c), widths[c], c))) + " |"
            : "  " + string.Join("  ", Enumerable.Range(0, columns).Select(c => Pad(Cell(row, c), widths[c], c)));

        sb.AppendLine(Line(section.Header));
        sb.AppendLine(markdown
            ? "|" + string.Join("|", widths.Select((w, c) => c == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|"
            : "  " + string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in section.Rows)
        {
            sb.AppendLine(Line(row));
        }
    }

    private static string Cell(string[] row, int c) => c < row.Length ? row[c] : string.Empty;

    private static string Pad(string text, int width, int column) =>
        column == 0 ? text.PadRight(width) : text.PadLeft(width);
}
