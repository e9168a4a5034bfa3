using System.Globalization;
using System.Text.Json;

namespace NetActors.Configuration;

/// <summary>Writes values as HOCON text.</summary>
internal static class HoconText
{
    /// <summary>A quoted HOCON string (JSON string syntax is valid HOCON).</summary>
    public static string Quote(string value) => JsonSerializer.Serialize(value);

    public static string Duration(TimeSpan value) =>
        ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Bool(bool value) => value ? "on" : "off";

    public static string List(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(Quote)) + "]";
}
