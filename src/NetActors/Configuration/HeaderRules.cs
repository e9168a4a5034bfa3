namespace NetActors.Configuration;

/// <summary>Checks header names and values before anything is sent.</summary>
internal static class HeaderRules
{
    /// <summary>Null when the header is acceptable; otherwise what is wrong with it (never its value).</summary>
    public static string? Check(string name, string value)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "a header name is empty.";
        }

        for (var i = 0; i < name.Length; i++)
        {
            // RFC 9110 token characters. What follows the first bad one is not shown: a name such as
            // "Authorization: Bearer ..." carries its value with it.
            if (!NetRequest.IsTokenChar(name[i]))
            {
                var shown = Printable(name[..Math.Min(i, 64)]);
                return $"header name '{shown}…' contains a character that is not allowed in a header name (at position {i}; the rest is not shown).";
            }
        }

        foreach (var ch in value)
        {
            if (ch is '\r' or '\n' or '\0')
            {
                return $"the value of header '{name}' contains a line break or NUL (header injection).";
            }

            if (ch > '\u007e' || (ch < ' ' && ch != '\t'))
            {
                // HTTP/1.1 sends header values as ASCII and .NET refuses others when it writes them; refused here,
                // before anything is sent, it is the request's problem and not a network failure of the origin.
                return $"the value of header '{name}' contains a character that is not printable ASCII; percent-encode it " +
                       "(or use RFC 8187 encoding) before sending.";
            }
        }

        return null;
    }

    /// <summary>
    /// Headers a request may not set by hand: the message framing, which the runtime derives from the body.
    /// Null when <paramref name="name"/> may be set.
    /// </summary>
    public static string? CheckRequestOnly(string name)
    {
        if (string.Equals(name, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase) ||
            string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
        {
            return $"header '{name}' frames the message and is set from the body; do not set it by hand " +
                   "(give NetContent.Stream its length to send Content-Length).";
        }

        return null;
    }

    private static string Printable(string s) =>
        new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
