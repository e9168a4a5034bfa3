using System.Text;

namespace NetActors.Telemetry;

/// <summary>
/// Which query parameters and headers hold secrets. Their values never reach a log line, an exception
/// message or a metric tag: they are replaced by <see cref="Mask"/>.
/// </summary>
public sealed class RedactionSettings
{
    /// <summary>What a redacted value is replaced with.</summary>
    public const string Mask = "***";

    private static readonly string[] BuiltInQuery =
    [
        "access_token", "token", "refresh_token", "id_token", "password", "passwd", "pwd", "secret",
        "client_secret", "api_key", "apikey", "api-key", "key", "signature", "sig", "code", "assertion",
    ];

    private static readonly string[] BuiltInHeaders =
    [
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Api-Key",
    ];

    private readonly HashSet<string> _query;
    private readonly HashSet<string> _headers;

    private RedactionSettings(IEnumerable<string> query, IEnumerable<string> headers)
    {
        _query = new HashSet<string>(BuiltInQuery.Concat(query), StringComparer.OrdinalIgnoreCase);
        _headers = new HashSet<string>(BuiltInHeaders.Concat(headers), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The built-in lists only.</summary>
    public static RedactionSettings Default { get; } = new([], []);

    /// <summary>The built-in lists plus the given names.</summary>
    /// <param name="queryParameters">Further query parameter names to redact.</param>
    /// <param name="headers">Further header names to redact.</param>
    public static RedactionSettings Create(IEnumerable<string> queryParameters, IEnumerable<string> headers) =>
        new(queryParameters, headers);

    /// <summary>True when the header's value must never be shown.</summary>
    /// <param name="name">A header name.</param>
    public bool IsSecretHeader(string name) => _headers.Contains(name);

    /// <summary>The header value as it may be shown: itself, or the mask.</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The header value.</param>
    public string HeaderForDisplay(string name, string value) => IsSecretHeader(name) ? Mask : value;

    /// <summary>
    /// The URL as it may be shown: user info removed, the values of secret query parameters masked,
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
        var hasUserInfo = uri.UserInfo.Length > 0;
        if (query.Length == 0 && !hasUserInfo && uri.Fragment.Length == 0)
        {
            return uri.AbsoluteUri;
        }

        var sb = new StringBuilder(uri.AbsoluteUri.Length);
        sb.Append(uri.Scheme).Append("://").Append(uri.Authority).Append(uri.AbsolutePath);
        AppendQuery(sb, query);
        return sb.ToString();
    }

    /// <summary>The URL text as it may be shown, whether or not it parses.</summary>
    /// <param name="url">A URL as the caller wrote it.</param>
    public string Url(string url) =>
        url.Contains("://", StringComparison.Ordinal) && !url.StartsWith('/') &&
        Uri.TryCreate(url, UriKind.Absolute, out var absolute)
            ? Url(absolute)
            : RedactRelative(url);

    private string RedactRelative(string text)
    {
        var q = text.IndexOf('?');
        var hash = text.IndexOf('#');
        var pathEnd = q >= 0 ? q : hash >= 0 ? hash : text.Length;
        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, pathEnd);
        if (q >= 0)
        {
            var queryEnd = hash > q ? hash : text.Length;
            AppendQuery(sb, text[q..queryEnd]);
        }

        return sb.ToString();
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
            var eq = part.IndexOf('=');
            var name = eq >= 0 ? part[..eq] : part;
            if (eq >= 0 && _query.Contains(Uri.UnescapeDataString(name)))
            {
                sb.Append(name).Append('=').Append(Mask);
            }
            else
            {
                sb.Append(part);
            }
        }
    }
}
