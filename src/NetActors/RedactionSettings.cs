using System.Text;

namespace NetActors;

/// <summary>
/// Which query parameters, path parameters and headers hold secrets. Their values never reach a log line, an
/// exception message or a metric tag: they are replaced by <see cref="Mask"/>. Parameter names are compared
/// without case and after percent-decoding (<c>Access%5FToken</c> is <c>access_token</c>); path parameters
/// (<c>/cart;jsessionid=…</c>) are treated like query parameters; a parameter with an empty name (<c>?=…</c>) is
/// always masked, since nothing says what it holds.
/// </summary>
public sealed class RedactionSettings
{
    /// <summary>What a redacted value is replaced with.</summary>
    public const string Mask = "***";

    /// <summary>
    /// The parameters masked by default: OAuth's and OpenID Connect's secrets and codes, passwords and API keys,
    /// signatures, and the usual session identifiers.
    /// </summary>
    public static IReadOnlyList<string> BuiltInParameters { get; } =
    [
        "access_token", "token", "refresh_token", "id_token", "password", "passwd", "pwd", "secret",
        "client_secret", "client_assertion", "assertion", "code", "api_key", "apikey", "api-key", "key",
        "signature", "sig", "session", "session_id", "sessionid", "sid", "jsessionid", "phpsessid", "asp.net_sessionid",
    ];

    /// <summary>The headers masked by default.</summary>
    public static IReadOnlyList<string> BuiltInHeaders { get; } =
    [
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Api-Key",
    ];

    private readonly HashSet<string> _query;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _queryBySpan;
    private readonly HashSet<string> _headers;
    private readonly string[] _extraQuery;
    private readonly string[] _extraHeaders;

    private RedactionSettings(IEnumerable<string> query, IEnumerable<string> headers)
    {
        _extraQuery = [.. query.Select(Normalize).Where(q => q.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase)];
        _extraHeaders = [.. headers.Distinct(StringComparer.OrdinalIgnoreCase)];
        _query = new HashSet<string>(BuiltInParameters.Concat(_extraQuery), StringComparer.OrdinalIgnoreCase);
        _queryBySpan = _query.GetAlternateLookup<ReadOnlySpan<char>>();
        _headers = new HashSet<string>(BuiltInHeaders.Concat(_extraHeaders), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The built-in lists only.</summary>
    public static RedactionSettings Default { get; } = new([], []);

    /// <summary>The built-in lists plus the given names.</summary>
    /// <param name="queryParameters">Further query and path parameter names to redact.</param>
    /// <param name="headers">Further header names to redact.</param>
    public static RedactionSettings Create(IEnumerable<string> queryParameters, IEnumerable<string> headers) =>
        new(queryParameters, headers);

    /// <summary>These settings with the names of <paramref name="other"/> added (a client's on top of the runtime's).</summary>
    /// <param name="other">Further names.</param>
    public RedactionSettings With(RedactionSettings other) =>
        other._extraQuery.Length == 0 && other._extraHeaders.Length == 0
            ? this
            : new(_extraQuery.Concat(other._extraQuery), _extraHeaders.Concat(other._extraHeaders));

    /// <summary>True when the header's value must never be shown.</summary>
    /// <param name="name">A header name.</param>
    public bool IsSecretHeader(string name) => _headers.Contains(name);

    /// <summary>True when the value of the query or path parameter <paramref name="name"/> must never be shown.</summary>
    /// <param name="name">The parameter's name as it appears in the URL (percent-encoded or not).</param>
    public bool IsSecretParameter(string name)
    {
        var decoded = Normalize(name);
        return decoded.Length == 0 || _query.Contains(decoded);
    }

    /// <summary>The header value as it may be shown: itself, or the mask.</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The header value.</param>
    public string HeaderForDisplay(string name, string value) => IsSecretHeader(name) ? Mask : value;

    /// <summary>
    /// The URL as it may be shown: user info removed, the values of secret query and path parameters masked,
    /// the fragment dropped.
    /// </summary>
    /// <param name="uri">An absolute or relative URL.</param>
    public string Url(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return RedactRelative(uri.OriginalString);
        }

        var query = uri.Query;
        var path = uri.AbsolutePath;
        var hasUserInfo = uri.UserInfo.Length > 0;
        if (!hasUserInfo && uri.Fragment.Length == 0 && !path.Contains(';') && !QueryMayNeedMask(query))
        {
            return uri.AbsoluteUri;
        }

        var sb = new StringBuilder(uri.AbsoluteUri.Length);
        sb.Append(uri.Scheme).Append("://").Append(uri.Authority);
        AppendPath(sb, path);
        AppendQuery(sb, query);
        return sb.ToString();
    }

    /// <summary>The URL text as it may be shown, whether or not it parses.</summary>
    /// <remarks>Absolute is what <see cref="Uri"/> reads as absolute, which is also <c>http:/\user:pw@host</c> (a
    /// backslash read as a slash): its user info is dropped like that of <c>http://user:pw@host</c>.</remarks>
    /// <param name="url">A URL as the caller wrote it.</param>
    public string Url(string url) =>
        url.Contains(':') && !url.StartsWith('/') && Uri.TryCreate(url, UriKind.Absolute, out var absolute) &&
        (url.Contains("://", StringComparison.Ordinal) || absolute.Scheme == Uri.UriSchemeHttp || absolute.Scheme == Uri.UriSchemeHttps)
            ? Url(absolute)
            : RedactRelative(url.Contains('@') ? WithoutUserInfo(url) : url);

    /// <summary>
    /// The text without the user info of a <c>scheme://user:pw@host</c> it starts with (also spelled with
    /// backslashes, <c>http:/\user:pw@host</c>, or protocol-relative, <c>//user:pw@host</c>): a URL that does not
    /// parse (an invalid port, a bad host) still never shows its password.
    /// </summary>
    private static string WithoutUserInfo(string text)
    {
        var lead = 0; // leading white space does not hide a URL from the reader (it is trimmed before parsing)
        while (lead < text.Length && char.IsWhiteSpace(text[lead]))
        {
            lead++;
        }

        var rest = text.AsSpan(lead);
        var start = rest.StartsWith("//", StringComparison.Ordinal) || rest.StartsWith("\\\\", StringComparison.Ordinal)
            ? lead
            : SchemeEnd(text, lead);
        if (start < 0)
        {
            return text;
        }

        while (start < text.Length && text[start] is '/' or '\\')
        {
            start++;
        }

        var end = text.IndexOfAny(AuthorityEnds, start);
        end = end < 0 ? text.Length : end;
        var at = end > start ? text.LastIndexOf('@', end - 1, end - start) : -1;
        return at < 0 ? text : string.Concat(text.AsSpan(0, start), text.AsSpan(at + 1));
    }

    /// <summary>Where the text's scheme ends (just past its colon), or -1 when it does not start with one.</summary>
    private static int SchemeEnd(string text, int from)
    {
        var colon = text.IndexOf(':', from);
        if (colon < from + 1 || !char.IsAsciiLetter(text[from]))
        {
            return -1;
        }

        for (var i = from + 1; i < colon; i++)
        {
            if (!(char.IsAsciiLetterOrDigit(text[i]) || text[i] is '+' or '-' or '.'))
            {
                return -1;
            }
        }

        return colon + 1;
    }

    private static readonly char[] AuthorityEnds = ['/', '?', '#', '\\'];

    private string RedactRelative(string text)
    {
        var q = text.IndexOf('?');
        var hash = text.IndexOf('#');
        if (hash < 0 && !text.AsSpan(0, q >= 0 ? q : text.Length).Contains(';') && !QueryMayNeedMask(q >= 0 ? text.AsSpan(q) : default))
        {
            return text; // nothing to mask, and nothing to drop: the text as it is (no copy, the common case)
        }

        var pathEnd = q >= 0 ? q : hash >= 0 ? hash : text.Length;
        var sb = new StringBuilder(text.Length);
        AppendPath(sb, text[..pathEnd]);
        if (q >= 0)
        {
            var queryEnd = hash > q ? hash : text.Length;
            AppendQuery(sb, text[q..queryEnd]);
        }

        return sb.ToString();
    }

    /// <summary>The path, with the values of secret path parameters (<c>;name=value</c> in a segment) masked.</summary>
    private void AppendPath(StringBuilder sb, string path)
    {
        if (!path.Contains(';'))
        {
            sb.Append(path);
            return;
        }

        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (i > 0)
            {
                sb.Append('/');
            }

            var parts = segments[i].Split(';');
            sb.Append(parts[0]);
            for (var p = 1; p < parts.Length; p++)
            {
                sb.Append(';');
                AppendParameter(sb, parts[p]);
            }
        }
    }

    /// <summary>
    /// False when no parameter of <paramref name="query"/> (with its leading '?') can need its value masked: every
    /// one without a value, or named plainly (no '%', '+' or surrounding space, which only the slow path decodes) by
    /// a name that is not secret. True sends the URL through the slow path, which decides exactly.
    /// </summary>
    private bool QueryMayNeedMask(ReadOnlySpan<char> query)
    {
        if (query.Length <= 1)
        {
            return false;
        }

        foreach (var range in query[1..].Split('&'))
        {
            var part = query[1..][range];
            var eq = part.IndexOf('=');
            if (eq < 0)
            {
                continue; // no value to mask
            }

            var name = part[..eq];
            if (name.IsEmpty || name.ContainsAny('%', '+') || char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]) ||
                _queryBySpan.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private void AppendQuery(StringBuilder sb, string query)
    {
        if (query.Length <= 1)
        {
            return;
        }

        sb.Append('?');
        var first = true;
        foreach (var part in query.AsSpan(1).ToString().Split('&'))
        {
            if (!first)
            {
                sb.Append('&');
            }

            first = false;
            AppendParameter(sb, part);
        }
    }

    private void AppendParameter(StringBuilder sb, string part)
    {
        var eq = part.IndexOf('=');
        if (eq >= 0 && IsSecretParameter(part[..eq]))
        {
            sb.Append(part, 0, eq).Append('=').Append(Mask);
        }
        else
        {
            sb.Append(part);
        }
    }

    /// <summary>A parameter name as compared: percent-decoded (twice, for doubly encoded names), '+' as space, trimmed.</summary>
    private static string Normalize(string name)
    {
        var decoded = name.Replace('+', ' ');
        for (var i = 0; i < 2 && decoded.Contains('%'); i++)
        {
            decoded = Uri.UnescapeDataString(decoded);
        }

        return decoded.Trim();
    }
}
