using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace NetActors.Configuration;

/// <summary>What a setting holds, as its default in <c>reference.conf</c> shows it.</summary>
internal enum SettingKind
{
    Text,
    Number,
    Switch,
    Duration,
    Size,
    List,
    Section,

    /// <summary>Names chosen by the application (clients, realms), each holding the keys of a template section.</summary>
    Names,

    /// <summary>Keys chosen by the application (header names, path patterns, body fields), each holding a value.</summary>
    Entries,
}

/// <summary>One key of the schema: its kind, and its children for sections.</summary>
internal sealed class SettingNode(string name, SettingKind kind)
{
    public string Name { get; } = name;

    public SettingKind Kind { get; } = kind;

    /// <summary>The known keys of a section, or of the template of <see cref="SettingKind.Names"/>.</summary>
    public Dictionary<string, SettingNode> Children { get; } = new(StringComparer.Ordinal);

    /// <summary>The kind of each entry of <see cref="SettingKind.Entries"/>.</summary>
    public SettingKind EntryKind { get; init; } = SettingKind.Text;
}

/// <summary>
/// The keys NetActors knows, derived once from the embedded <c>reference.conf</c> (every setting has its default
/// there, so that file is the schema): unknown keys and durations without a unit are refused, from HOCON and from
/// .NET configuration alike, naming the key and the closest known one.
/// </summary>
internal static partial class SettingsSchema
{
    private static readonly Lazy<SettingNode> RootNode = new(() =>
        Build("netactors", NetActorsSettings.Reference.GetConfig("netactors").Root.GetObject(), string.Empty));

    /// <summary>The <c>netactors</c> section's schema.</summary>
    public static SettingNode Root => RootNode.Value;

    // Where the application chooses the names: clients and realms take the defaults' keys; the others hold values.
    private static readonly Dictionary<string, (string Template, SettingKind Entries)> Chosen = new(StringComparer.Ordinal)
    {
        ["clients"] = ("client-defaults", SettingKind.Section),
        ["auth.realms"] = ("auth.realm-defaults", SettingKind.Section),
        ["client-defaults.headers"] = (string.Empty, SettingKind.Text),
        ["client-defaults.cache.path-ttls"] = (string.Empty, SettingKind.Duration),
        ["auth.realm-defaults.endpoint.body"] = (string.Empty, SettingKind.Text),
    };

    private static SettingNode Build(string name, HoconObject hocon, string path)
    {
        var node = new SettingNode(name, SettingKind.Section);
        foreach (var (key, value) in hocon.Items)
        {
            var childPath = path.Length == 0 ? key : path + "." + key;
            if (Chosen.TryGetValue(childPath, out var chosen))
            {
                node.Children[key] = new SettingNode(key, chosen.Template.Length > 0 ? SettingKind.Names : SettingKind.Entries)
                {
                    EntryKind = chosen.Entries,
                };
                continue;
            }

            node.Children[key] = value.IsObject()
                ? Build(key, value.GetObject(), childPath)
                : new SettingNode(key, KindOf(value));
        }

        // The templates' keys, for the names chosen under them.
        foreach (var (chosenPath, (template, _)) in Chosen)
        {
            if (template.Length > 0 && path.Length == 0)
            {
                var target = Find(node, chosenPath);
                var source = Find(node, template);
                if (target is not null && source is not null)
                {
                    foreach (var (key, child) in source.Children)
                    {
                        target.Children[key] = child;
                    }
                }
            }
        }

        return node;
    }

    private static SettingNode? Find(SettingNode root, string path)
    {
        var node = root;
        foreach (var part in path.Split('.'))
        {
            if (!node.Children.TryGetValue(part, out node!))
            {
                return null;
            }
        }

        return node;
    }

    private static SettingKind KindOf(HoconValue value)
    {
        if (value.IsArray() || value.Values.Any(v => v is HoconArray))   // an empty [] is not IsArray()
        {
            return SettingKind.List;
        }

        var text = value.GetString() ?? string.Empty;
        return text switch
        {
            "on" or "off" or "true" or "false" => SettingKind.Switch,
            _ when DurationPattern().IsMatch(text) => SettingKind.Duration,
            _ when SizePattern().IsMatch(text) => SettingKind.Size,
            _ when double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _) => SettingKind.Number,
            _ => SettingKind.Text,
        };
    }

    /// <summary>A HOCON duration with its unit.</summary>
    [GeneratedRegex(@"^\s*\d+(\.\d+)?\s*(ns|nanos?|nanoseconds?|us|micros?|microseconds?|ms|millis?|milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)\s*$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^\s*\d+(\.\d+)?\s*([kKMGT]i?B|[kKMGT]|bytes?|B)\s*$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^\s*[+-]?\d+(\.\d+)?\s*$")]
    private static partial Regex BareNumber();

    /// <summary>True when <paramref name="text"/> is a number without a unit (which HOCON would read as milliseconds).</summary>
    public static bool IsBareNumber(string text) => BareNumber().IsMatch(text);

    /// <summary>The message for a duration given without a unit.</summary>
    public static string NoUnit(string text) =>
        $"'{text}' is a duration without a unit; write the unit, for example {text.Trim()}ms or {text.Trim()}s.";

    /// <summary>
    /// Checks a HOCON <c>netactors</c> section (the application's, over the defaults): every key is known, every
    /// duration has a unit.
    /// </summary>
    /// <exception cref="NetActorsConfigurationException">Names the first unknown key or unit-less duration.</exception>
    public static void Check(Config netactors)
    {
        if (netactors.IsEmpty)
        {
            return;
        }

        Check(netactors.Root.GetObject(), Root, "netactors");
    }

    private static void Check(HoconObject hocon, SettingNode node, string path)
    {
        foreach (var (key, value) in hocon.Items)
        {
            var keyPath = $"{path}.{key}";
            if (!node.Children.TryGetValue(key, out var child))
            {
                throw Unknown(keyPath, key, node);
            }

            switch (child.Kind)
            {
                case SettingKind.Section when value.IsObject():
                    Check(value.GetObject(), child, keyPath);
                    break;
                case SettingKind.Names when value.IsObject():
                    foreach (var (name, section) in value.GetObject().Items)
                    {
                        if (section.IsObject())
                        {
                            Check(section.GetObject(), child, $"{keyPath}.{name}");
                        }
                    }

                    break;
                case SettingKind.Entries when value.IsObject() && child.EntryKind == SettingKind.Duration:
                    foreach (var (entry, entryValue) in value.GetObject().Items)
                    {
                        CheckDuration($"{keyPath}.{entry}", entryValue);
                    }

                    break;
                case SettingKind.Duration:
                    CheckDuration(keyPath, value);
                    break;
            }
        }
    }

    private static void CheckDuration(string keyPath, HoconValue value)
    {
        if (!value.IsObject() && !value.IsArray() && value.GetString() is { } text && IsBareNumber(text))
        {
            throw new NetActorsConfigurationException(keyPath, NoUnit(text));
        }
    }

    /// <summary>The error for an unknown key: its path, and the known key closest to it.</summary>
    public static NetActorsConfigurationException Unknown(string keyPath, string key, SettingNode section)
    {
        var closest = Closest(key, section.Children.Keys);
        return new NetActorsConfigurationException(keyPath,
            closest is null
                ? "is not a NetActors setting."
                : $"is not a NetActors setting; the closest known key is '{closest}'.");
    }

    /// <summary>The known key with the smallest edit distance to <paramref name="key"/> (ignoring case, '-' and '_').</summary>
    public static string? Closest(string key, IEnumerable<string> known)
    {
        var wanted = Canonical(key);
        return known
            .Select(k => (Key: k, Distance: Distance(wanted, Canonical(k))))
            .OrderBy(k => k.Distance)
            .ThenBy(k => k.Key, StringComparer.Ordinal)
            .Select(k => k.Key)
            .FirstOrDefault();
    }

    /// <summary>
    /// A key as .NET configuration may spell it, reduced to compare with a known key: <c>MaxConnections</c>,
    /// <c>max_connections</c> and <c>max-connections</c> are the same setting.
    /// </summary>
    public static string Canonical(string key) =>
        string.Concat(key.Where(c => c is not '-' and not '_')).ToLowerInvariant();

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
