using System.Buffers.Text;
using System.Text.Json;

namespace NetActors;

/// <summary>
/// The tokens of a session: an access token, optionally a refresh token and the access token's expiry.
/// Its <see cref="ToString"/> never shows a token, so it is safe in a log line by accident.
/// </summary>
/// <param name="AccessToken">The bearer access token.</param>
/// <param name="RefreshToken">The refresh token, if the session has one.</param>
/// <param name="ExpiresAt">When the access token expires; when null, a JWT <c>exp</c> claim is used if present.</param>
public sealed record TokenSet(string AccessToken, string? RefreshToken = null, DateTimeOffset? ExpiresAt = null)
{
    /// <summary>The expiry: <see cref="ExpiresAt"/>, else the access token's JWT <c>exp</c> claim, else null.</summary>
    public DateTimeOffset? EffectiveExpiry => ExpiresAt ?? Jwt.TryReadExpiry(AccessToken);

    /// <summary>Shows the shape of the tokens, never their values.</summary>
    public override string ToString() =>
        $"TokenSet {{ AccessToken = ***, RefreshToken = {(RefreshToken is null ? "none" : "***")}, ExpiresAt = {EffectiveExpiry:O} }}";

    /// <summary>Null when the tokens can be sent as bearer credentials; otherwise what is wrong (never the value).</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(AccessToken))
        {
            return "the access token is empty.";
        }

        // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" followed by "=" padding.
        foreach (var ch in AccessToken)
        {
            var ok = ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '.' or '_' or '~' or '+' or '/' or '=';
            if (!ok)
            {
                return "the access token contains a character that is not allowed in a bearer token.";
            }
        }

        return RefreshToken is not null && RefreshToken.Any(char.IsControl)
            ? "the refresh token contains a control character."
            : null;
    }
}

/// <summary>Reads the <c>exp</c> claim of a JWT without validating it (the server validates; we only schedule).</summary>
internal static class Jwt
{
    public static DateTimeOffset? TryReadExpiry(string token)
    {
        var first = token.IndexOf('.');
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first <= 0 || second <= first + 1)
        {
            return null;
        }

        try
        {
            var payload = token.AsSpan(first + 1, second - first - 1);
            var bytes = new byte[Base64Url.GetMaxDecodedLength(payload.Length)];
            if (Base64Url.DecodeFromChars(payload, bytes) is var written && written <= 0)
            {
                return null;
            }

            using var doc = JsonDocument.Parse(bytes.AsMemory(0, written));
            return doc.RootElement.ValueKind == JsonValueKind.Object &&
                   doc.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return null;
        }
    }
}
