using System.Text.Json;

namespace NetActors.Errors;

/// <summary>RFC 9457 problem details, as parsed from an <c>application/problem+json</c> response.</summary>
/// <param name="Type">A URI reference that identifies the problem type.</param>
/// <param name="Title">A short, human-readable summary of the problem type.</param>
/// <param name="Status">The status code the origin generated.</param>
/// <param name="Detail">A human-readable explanation specific to this occurrence.</param>
/// <param name="Instance">A URI reference that identifies this occurrence.</param>
/// <param name="Extensions">Any other members of the problem object.</param>
public sealed record NetProblemDetails(
    string? Type,
    string? Title,
    int? Status,
    string? Detail,
    string? Instance,
    IReadOnlyDictionary<string, JsonElement> Extensions)
{
    /// <summary>Parses problem details, or returns null if the body is not a JSON object.</summary>
    /// <param name="body">The response body.</param>
    public static NetProblemDetails? TryParse(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? type = null, title = null, detail = null, instance = null;
            int? status = null;
            var extensions = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "type" when p.Value.ValueKind == JsonValueKind.String: type = p.Value.GetString(); break;
                    case "title" when p.Value.ValueKind == JsonValueKind.String: title = p.Value.GetString(); break;
                    case "detail" when p.Value.ValueKind == JsonValueKind.String: detail = p.Value.GetString(); break;
                    case "instance" when p.Value.ValueKind == JsonValueKind.String: instance = p.Value.GetString(); break;
                    case "status" when p.Value.TryGetInt32(out var s): status = s; break;
                    default: extensions[p.Name] = p.Value.Clone(); break;
                }
            }

            return new NetProblemDetails(type, title, status, detail, instance, extensions);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
