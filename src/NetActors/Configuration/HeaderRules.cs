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

        foreach (var ch in name)
        {
            // RFC 9110 token characters.
            var ok = ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' ||
                     "!#$%&'*+-.^_`|~".Contains(ch);
            if (!ok)
            {
                return $"header name '{Printable(name)}' contains a character that is not allowed in a header name.";
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
                // HTTP/1.1 sends header values as ASCII; the socket handler would fail the request later, untyped.
                return $"the value of header '{name}' contains a character that is not printable ASCII.";
            }
        }

        return null;
    }

    private static string Printable(string s) =>
        new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
