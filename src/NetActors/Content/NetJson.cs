using System.Text.Json;

namespace NetActors.Content;

/// <summary>The JSON defaults NetActors uses when a client sets none.</summary>
public static class NetJson
{
    /// <summary>System.Text.Json's web defaults (camelCase, case-insensitive reads), numbers as strings allowed.</summary>
    public static JsonSerializerOptions Default { get; } = new(JsonSerializerDefaults.Web);
}
