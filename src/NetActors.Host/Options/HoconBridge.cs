using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace NetActors.Host.Options;

/// <summary>
/// Turns the configuration section <c>NetActors</c> (from appsettings.json, environment variables or the command
/// line) into HOCON under <c>netactors</c>, so that any runtime key can be set the .NET way and wins over
/// netactors.hocon: <c>NetActors:clients:api:max-connections=4</c> becomes
/// <c>netactors."clients"."api"."max-connections" = "4"</c>. Keys keep their case (HOCON keys are case-sensitive);
/// values are HOCON strings, which the runtime reads as numbers, durations or switches as the key needs; a
/// section whose keys are 0, 1, 2… is a list.
/// </summary>
internal static class HoconBridge
{
    /// <summary>The HOCON text for <paramref name="config"/>'s <c>NetActors</c> section; empty when there is none.</summary>
    public static string From(IConfiguration config)
    {
        var sb = new StringBuilder();
        foreach (var child in config.GetSection("NetActors").GetChildren())
        {
            Write(child, "netactors." + Quote(child.Key), sb);
        }

        return sb.ToString();
    }

    private static void Write(IConfigurationSection section, string path, StringBuilder sb)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            if (section.Value is { } value)
            {
                sb.Append(path).Append(" = ").AppendLine(Quote(value));
            }

            return;
        }

        if (children.All(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _) && c.Value is not null && !c.GetChildren().Any()))
        {
            var items = children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)).Select(c => Quote(c.Value!));
            sb.Append(path).Append(" = [").AppendJoin(", ", items).AppendLine("]");
            return;
        }

        foreach (var child in children)
        {
            Write(child, path + "." + Quote(child.Key), sb);
        }
    }

    // HOCON's quoted strings are JSON strings.
    private static string Quote(string text) => JsonSerializer.Serialize(text);
}
