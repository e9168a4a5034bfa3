using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace NetActors.Configuration;

/// <summary>
/// Reads NetActors settings from .NET configuration (appsettings.json, environment variables, the command line,
/// any <see cref="IConfiguration"/>) into HOCON under <c>netactors</c>, key by key against the schema of
/// <c>reference.conf</c>:
/// <list type="bullet">
/// <item>a key may be spelled as in HOCON (<c>max-connections</c>), in PascalCase (<c>MaxConnections</c>) or with
/// underscores (<c>max_connections</c>, as environment variables have it);</item>
/// <item>client and realm names, header names and path patterns keep their case;</item>
/// <item>.NET precedence holds: when two sources set one setting (even spelled differently), the later source's
/// value replaces the other one;</item>
/// <item>an unknown key fails, naming the key and the closest known key; a duration without a unit fails naming
/// the key;</item>
/// <item>a list is a section with children <c>0</c>, <c>1</c>… or one comma-separated value.</item>
/// </list>
/// The configuration is read once, when the runtime starts.
/// </summary>
internal static class ConfigurationReader
{
    /// <summary>The HOCON text for <paramref name="section"/> (the <c>NetActors</c> section); empty when it is empty.</summary>
    /// <exception cref="NetActorsConfigurationException">A key is unknown or a value impossible; names the key.</exception>
    public static string ToHocon(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var sb = new StringBuilder();
        var providers = ProvidersOf(section);
        WriteSection([section], SettingsSchema.Root, "netactors", providers, sb);
        return sb.ToString();
    }

    private static void WriteSection(IReadOnlyList<IConfiguration> spellings, SettingNode node, string hoconPath,
        IReadOnlyList<IConfigurationProvider>? providers, StringBuilder sb)
    {
        var byKey = new Dictionary<string, List<IConfigurationSection>>(StringComparer.Ordinal);
        foreach (var child in spellings.SelectMany(s => s.GetChildren()))
        {
            var known = node.Children.Keys.FirstOrDefault(k =>
                SettingsSchema.Canonical(k) == SettingsSchema.Canonical(child.Key));
            if (known is null)
            {
                throw SettingsSchema.Unknown(child.Path, child.Key, node);
            }

            if (!byKey.TryGetValue(known, out var list))
            {
                byKey[known] = list = [];
            }

            list.Add(child);
        }

        foreach (var (key, sections) in byKey)
        {
            var setting = node.Children[key];
            var path = $"{hoconPath}.{Quote(key)}";
            switch (setting.Kind)
            {
                case SettingKind.Section:
                    WriteSection(sections, setting, path, providers, sb);
                    break;
                case SettingKind.Names:
                    foreach (var named in sections.SelectMany(s => s.GetChildren()).GroupBy(c => c.Key, StringComparer.OrdinalIgnoreCase))
                    {
                        WriteSection([.. named], setting, $"{path}.{Quote(named.Key)}", providers, sb);
                    }

                    break;
                case SettingKind.Entries:
                    foreach (var entry in sections.SelectMany(s => s.GetChildren()).GroupBy(c => c.Key, StringComparer.OrdinalIgnoreCase))
                    {
                        if (Winner([.. entry], providers) is { } value)
                        {
                            WriteValue(value, setting.EntryKind, $"{path}.{Quote(entry.Key)}", sb);
                        }
                    }

                    break;
                case SettingKind.List:
                    if (WinnerList(sections, providers) is { } items)
                    {
                        sb.Append(path).Append(" = [").AppendJoin(", ", items.Select(Quote)).AppendLine("]");
                    }

                    break;
                default:
                    if (Winner(sections, providers) is { } leaf)
                    {
                        WriteValue(leaf, setting.Kind, path, sb);
                    }

                    break;
            }
        }
    }

    private static void WriteValue(IConfigurationSection section, SettingKind kind, string hoconPath, StringBuilder sb)
    {
        if (section.GetChildren().Any())
        {
            throw new NetActorsConfigurationException(section.Path, "is a single value, not a section.");
        }

        var value = section.Value ?? string.Empty;
        if (kind == SettingKind.Duration && SettingsSchema.IsBareNumber(value))
        {
            throw new NetActorsConfigurationException(section.Path, SettingsSchema.NoUnit(value));
        }

        if (kind == SettingKind.Switch)
        {
            value = value.Trim().ToLowerInvariant();   // JSON's true/false arrive as "True"/"False"
        }

        sb.Append(hoconPath).Append(" = ").AppendLine(Quote(value));
    }

    /// <summary>
    /// Of several spellings of one setting, the one the latest configuration source set (.NET precedence: a later
    /// source replaces a value). Null when none has a value.
    /// </summary>
    private static IConfigurationSection? Winner(IReadOnlyList<IConfigurationSection> spellings,
        IReadOnlyList<IConfigurationProvider>? providers)
    {
        var withValue = spellings.Where(s => s.Value is not null || s.GetChildren().Any()).ToList();
        if (withValue.Count <= 1)
        {
            return withValue.FirstOrDefault();
        }

        return withValue[LatestIndex(withValue, providers)];
    }

    /// <summary>
    /// A list is replaced as a whole by the latest source that sets it (one comma-separated value, or items
    /// 0, 1, 2…), never merged item by item with an earlier source's longer list.
    /// </summary>
    private static IReadOnlyList<string>? WinnerList(IReadOnlyList<IConfigurationSection> spellings,
        IReadOnlyList<IConfigurationProvider>? providers)
    {
        var winner = Winner(spellings, providers);
        if (winner is null)
        {
            return null;
        }

        var latest = providers?.LastOrDefault(p => SetsAnything(p, winner));
        if (latest is not null)
        {
            if (latest.TryGet(winner.Path, out var own) && own is not null)
            {
                return Split(own);
            }

            var keys = latest.GetChildKeys([], winner.Path).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var items = new SortedDictionary<int, string>();
            foreach (var key in keys)
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ||
                    !latest.TryGet($"{winner.Path}:{key}", out var item) || item is null)
                {
                    throw new NetActorsConfigurationException($"{winner.Path}:{key}", "is not an item of a list: give a list items 0, 1, 2… or one comma-separated value.");
                }

                items[index] = item;
            }

            return [.. items.Values];
        }

        var children = winner.GetChildren().ToList();
        if (children.Count == 0)
        {
            return Split(winner.Value ?? string.Empty);
        }

        if (!children.All(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _) && c.Value is not null))
        {
            throw new NetActorsConfigurationException(winner.Path, "is a list: give it items 0, 1, 2… or one comma-separated value.");
        }

        return [.. children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)).Select(c => c.Value!)];
    }

    private static string[] Split(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static int LatestIndex(IReadOnlyList<IConfigurationSection> spellings, IReadOnlyList<IConfigurationProvider>? providers)
    {
        if (providers is not null)
        {
            for (var p = providers.Count - 1; p >= 0; p--)
            {
                for (var i = 0; i < spellings.Count; i++)
                {
                    if (SetsAnything(providers[p], spellings[i]))
                    {
                        return i;
                    }
                }
            }
        }

        throw new NetActorsConfigurationException(spellings[0].Path,
            $"is set more than once, spelled differently ({string.Join(", ", spellings.Select(s => s.Path))}); keep one spelling.");
    }

    private static bool SetsAnything(IConfigurationProvider provider, IConfigurationSection section)
    {
        if (provider.TryGet(section.Path, out _))
        {
            return true;
        }

        return provider.GetChildKeys([], section.Path).Any();
    }

    /// <summary>
    /// The configuration sources in precedence order (last wins), to decide between two spellings of one setting.
    /// A section of a <c>ConfigurationRoot</c> or <c>ConfigurationManager</c> keeps its root in a private field.
    /// </summary>
    private static IReadOnlyList<IConfigurationProvider>? ProvidersOf(IConfiguration configuration)
    {
        if (configuration is IConfigurationRoot root)
        {
            return [.. root.Providers];
        }

        var field = configuration.GetType().GetField("_root", BindingFlags.Instance | BindingFlags.NonPublic);
        return field?.GetValue(configuration) is IConfigurationRoot sectionRoot ? [.. sectionRoot.Providers] : null;
    }

    // HOCON's quoted strings are JSON strings.
    private static string Quote(string text) => JsonSerializer.Serialize(text);
}
