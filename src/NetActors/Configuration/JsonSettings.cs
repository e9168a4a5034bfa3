using System.Text.Json;
using System.Text.Json.Serialization;

namespace NetActors.Configuration;

/// <summary>How strictly a client reads JSON responses.</summary>
public enum JsonReadPolicy
{
    /// <summary>
    /// Missing optional fields get their defaults, unknown fields are ignored, names match case-insensitively,
    /// numbers may come as strings, comments and trailing commas are skipped: the backend may add fields without
    /// breaking the service.
    /// </summary>
    Defensive,

    /// <summary>
    /// Unknown fields, missing <c>required</c> members or constructor parameters, and nulls in non-nullable
    /// references are errors (<see cref="Errors.ResponseFormatException"/> with the JSON path).
    /// </summary>
    Strict,
}

/// <summary>A client's JSON settings (<c>json.*</c>). C# can replace them with its own options or a source-generated context.</summary>
public sealed record JsonSettings
{
    /// <summary>Property naming: <c>camel-case</c>, <c>snake-case-lower</c>, <c>snake-case-upper</c>, <c>kebab-case-lower</c>, <c>kebab-case-upper</c> or <c>none</c>.</summary>
    public string NamingPolicy { get; init; } = ReferenceDefaults.String("client-defaults.json.naming-policy");

    /// <summary>How strictly responses are read.</summary>
    public JsonReadPolicy ReadPolicy { get; init; } = Enum.Parse<JsonReadPolicy>(ReferenceDefaults.String("client-defaults.json.read-policy"), ignoreCase: true);

    /// <summary>The serializer options these settings describe (a new, read-only instance).</summary>
    public JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = Naming(NamingPolicy),
            DictionaryKeyPolicy = null,
        };
        if (ReadPolicy == JsonReadPolicy.Defensive)
        {
            options.AllowTrailingCommas = true;
            options.ReadCommentHandling = JsonCommentHandling.Skip;
            options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        }
        else
        {
            options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            options.RespectRequiredConstructorParameters = true;
            options.RespectNullableAnnotations = true;
            options.NumberHandling = JsonNumberHandling.Strict;
        }

        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    internal static JsonSettings Create(HoconReader r)
    {
        var naming = r.String("json.naming-policy");
        if (naming is not ("camel-case" or "snake-case-lower" or "snake-case-upper" or "kebab-case-lower" or "kebab-case-upper" or "none"))
        {
            throw r.Invalid("json.naming-policy",
                $"'{naming}' is not one of camel-case, snake-case-lower, snake-case-upper, kebab-case-lower, kebab-case-upper, none.");
        }

        var policy = r.String("json.read-policy");
        return new JsonSettings
        {
            NamingPolicy = naming,
            ReadPolicy = policy switch
            {
                "defensive" => JsonReadPolicy.Defensive,
                "strict" => JsonReadPolicy.Strict,
                _ => throw r.Invalid("json.read-policy", $"'{policy}' is not defensive or strict."),
            },
        };
    }

    private static JsonNamingPolicy? Naming(string name) => name switch
    {
        "snake-case-lower" => JsonNamingPolicy.SnakeCaseLower,
        "snake-case-upper" => JsonNamingPolicy.SnakeCaseUpper,
        "kebab-case-lower" => JsonNamingPolicy.KebabCaseLower,
        "kebab-case-upper" => JsonNamingPolicy.KebabCaseUpper,
        "none" => null,
        _ => JsonNamingPolicy.CamelCase,
    };
}
