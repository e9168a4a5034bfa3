using NetActors.Configuration;

namespace NetActors.Hosts;

/// <summary>Turns a request's URL into an absolute http(s) target.</summary>
internal static class RequestTargets
{
    /// <summary>
    /// True when <paramref name="url"/> is an absolute http(s) URL. A URL is absolute only when it starts with a
    /// scheme (RFC 3986: a letter, then letters, digits, '+', '-' or '.', then ':'); anything else is relative, also
    /// when its query holds a URL (<c>search?u=http://x</c>). (On Unix "/path" parses as an absolute file URI, so
    /// that check is not left to <see cref="Uri"/>.)
    /// </summary>
    public static bool TryAbsolute(string url, out Uri? uri, out string? problem)
    {
        problem = null;
        uri = null;
        if (!StartsWithScheme(url))
        {
            return false;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed))
        {
            problem = "the URL is not valid.";
            return false;
        }

        if (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps)
        {
            problem = $"the URL scheme '{parsed.Scheme}' is not http or https.";
            return false;
        }

        uri = parsed;
        return true;
    }

    /// <summary>
    /// <see cref="TryAbsolute(string, out Uri?, out string?)"/> for a request: an absolute http(s) Uri it was built
    /// from is used as it is, not parsed again; anything else (no Uri, a relative one, another scheme, such as the
    /// file Uri that "/path" becomes on Unix) is decided by the URL's text.
    /// </summary>
    public static bool TryAbsolute(NetRequest request, out Uri? uri, out string? problem)
    {
        if (request.GivenAbsoluteUri is { } given && (given.Scheme == Uri.UriSchemeHttp || given.Scheme == Uri.UriSchemeHttps))
        {
            uri = given;
            problem = null;
            return true;
        }

        return TryAbsolute(request.Url, out uri, out problem);
    }

    /// <summary>
    /// The origin key of an absolute target: the client's base origin when the target is on it (the common case,
    /// which builds no string per request), else <see cref="Origins.KeyOf"/>.
    /// </summary>
    public static string OriginKeyOf(Uri target, ClientSettings client) =>
        client.BaseAddress is { } baseAddress && client.BaseOrigin is { } baseOrigin && target.Port == baseAddress.Port &&
        string.Equals(target.Scheme, baseAddress.Scheme, StringComparison.Ordinal) &&
        string.Equals(target.IdnHost, baseAddress.IdnHost, StringComparison.OrdinalIgnoreCase)
            ? baseOrigin
            : Origins.KeyOf(target);

    private static bool StartsWithScheme(string url)
    {
        if (url.Length == 0 || !char.IsAsciiLetter(url[0]))
        {
            return false;
        }

        for (var i = 1; i < url.Length; i++)
        {
            var ch = url[i];
            if (ch == ':')
            {
                return true;
            }

            if (!char.IsAsciiLetterOrDigit(ch) && ch is not ('+' or '-' or '.'))
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// Resolves a relative URL against the client's base address, Dio-style: the path is appended to the base
    /// address's path whether or not it starts with a slash ("users/me" and "/users/me" under
    /// "https://api/v1" both give "https://api/v1/users/me").
    /// </summary>
    public static (Uri? Target, string? Problem) Resolve(ClientSettings client, string url)
    {
        if (TryAbsolute(url, out var absolute, out var problem))
        {
            return (absolute, null);
        }

        if (problem is not null)
        {
            return (null, problem);
        }

        if (client.BaseAddress is null)
        {
            return (null, $"the URL '{url}' is relative but client '{client.Name}' has no base-address.");
        }

        foreach (var ch in url)
        {
            if (char.IsControl(ch) || ch == ' ')
            {
                return (null, "the URL contains a space or a control character; escape it.");
            }
        }

        var baseText = client.BaseAddress.AbsoluteUri;
        var joined = url.Length == 0
            ? baseText
            : string.Concat(baseText.AsSpan(0, baseText.Length - (baseText.EndsWith('/') ? 1 : 0)), "/",
                url.AsSpan(url.StartsWith('/') ? 1 : 0));
        return Uri.TryCreate(joined, UriKind.Absolute, out var target)
            ? (target, null)
            : (null, "the URL is not valid.");
    }
}
