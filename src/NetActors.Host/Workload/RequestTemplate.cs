using System.Globalization;
using System.Text.RegularExpressions;
using NetActors.Host.Load;

namespace NetActors.Host.Workload;

/// <summary>
/// Placeholders in a workload endpoint's path and body: <c>{seq}</c> (the operation's sequence number),
/// <c>{random:N}</c> (a whole number from 0 to N-1, from the seeded sequence) and <c>{uuid}</c> (a seeded UUID).
/// </summary>
internal static partial class RequestTemplate
{
    /// <summary>The placeholders, for help texts.</summary>
    public const string Help = "{seq}, {random:N}, {uuid}";

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    /// <summary>What is wrong with <paramref name="template"/>'s placeholders, or null.</summary>
    public static string? Problem(string template)
    {
        foreach (Match m in Placeholder().Matches(template))
        {
            var name = m.Groups[1].Value;
            if (name is "seq" or "uuid")
            {
                continue;
            }

            if (!name.StartsWith("random:", StringComparison.Ordinal) ||
                !int.TryParse(name.AsSpan(7), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
            {
                return $"unknown placeholder {m.Value} (known: {Help}, N a whole number of at least 1).";
            }
        }

        return null;
    }

    /// <summary>Fills the placeholders of <paramref name="template"/> for <paramref name="op"/>.</summary>
    public static string Expand(string template, LoadOp op)
    {
        if (!template.Contains('{', StringComparison.Ordinal))
        {
            return template;
        }

        return Placeholder().Replace(template, m => m.Groups[1].Value switch
        {
            "seq" => op.Sequence.ToString(CultureInfo.InvariantCulture),
            "uuid" => Uuid(op.Random).ToString(),
            var random => op.Random.Next(int.Parse(random.AsSpan(7), CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
        });
    }

    /// <summary>A UUID from a seeded random source (repeatable runs).</summary>
    public static Guid Uuid(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes);
    }
}
