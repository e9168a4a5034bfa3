using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>
/// The library's defaults as the embedded <c>reference.conf</c> has them, for the initial values of the settings
/// records: every default is written once, in that file, and a settings object built in C# starts from the same
/// values as one read from configuration.
/// </summary>
internal static class ReferenceDefaults
{
    private static readonly Lazy<Config> Section = new(() => NetActorsSettings.Reference.GetConfig("netactors"));

    private static HoconReader Reader => new(Section.Value, "netactors.");

    public static int Int(string key) => Reader.Int(key, int.MinValue, int.MaxValue);

    public static double Double(string key) => Reader.Double(key, double.MinValue, double.MaxValue);

    public static bool Bool(string key) => Reader.Bool(key);

    public static string String(string key) => Reader.String(key);

    public static TimeSpan Duration(string key) => Reader.Duration(key, allowZero: true);

    public static long Size(string key) => Reader.ByteSize(key, min: 0);

    /// <summary>The string fields of the object at <paramref name="key"/>, in the file's order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Fields(string key) =>
        Section.Value.GetConfig(key) is { IsEmpty: false } section
            ? section.Root.GetObject().Items.Select(i => new KeyValuePair<string, string>(i.Key, i.Value.GetString() ?? string.Empty)).ToList()
            : [];
}
