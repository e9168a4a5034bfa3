using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NetActors;

/// <summary>
/// How a paginated collection tells where its items are and which page comes next, for
/// <see cref="NetClientExtensions.PaginateAsync{T}"/>. Paths into the JSON are dotted (<c>data.items</c>);
/// an empty path is the whole body.
/// </summary>
public abstract class Paging
{
    private protected Paging(string itemsPath)
    {
        ItemsPath = itemsPath ?? string.Empty;
    }

    /// <summary>Where the page's items (a JSON array) are; empty for a body that is the array.</summary>
    public string ItemsPath { get; }

    /// <summary>Most pages read before the enumeration fails with a typed error (a guard against endless collections).</summary>
    public int MaxPages { get; init; } = 10_000;

    /// <summary>
    /// Cursor paging: each page holds its items, the next page's cursor and, optionally, a has-more flag; the
    /// cursor goes back as query parameter <paramref name="cursorParameter"/>. It ends when the cursor is
    /// missing, null or empty, or the flag is false.
    /// </summary>
    /// <param name="itemsPath">Path of the items array.</param>
    /// <param name="nextCursorPath">Path of the next cursor.</param>
    /// <param name="hasMorePath">Path of the has-more flag, or null when there is none.</param>
    /// <param name="cursorParameter">The query parameter that carries the cursor.</param>
    public static Paging Cursor(string itemsPath = "items", string nextCursorPath = "next", string? hasMorePath = "hasMore",
        string cursorParameter = "cursor") =>
        new CursorPaging(itemsPath, nextCursorPath, hasMorePath, cursorParameter);

    /// <summary>
    /// Offset paging: <paramref name="limitParameter"/>=<paramref name="pageSize"/> and
    /// <paramref name="offsetParameter"/>=0, 30, 60, …; it ends with a page shorter than the page size.
    /// </summary>
    /// <param name="pageSize">Items per page.</param>
    /// <param name="offsetParameter">The offset's query parameter.</param>
    /// <param name="limitParameter">The page size's query parameter.</param>
    /// <param name="itemsPath">Path of the items array.</param>
    public static Paging Offset(int pageSize, string offsetParameter = "offset", string limitParameter = "limit",
        string itemsPath = "items") =>
        new CountedPaging(pageSize, offsetParameter, limitParameter, itemsPath, byOffset: true, firstPage: 0);

    /// <summary>
    /// Page-number paging: <paramref name="pageParameter"/>=1, 2, 3, … (from <paramref name="firstPage"/>) with
    /// <paramref name="sizeParameter"/>=<paramref name="pageSize"/>; it ends with a page shorter than the page size.
    /// </summary>
    /// <param name="pageSize">Items per page.</param>
    /// <param name="pageParameter">The page number's query parameter.</param>
    /// <param name="sizeParameter">The page size's query parameter.</param>
    /// <param name="itemsPath">Path of the items array.</param>
    /// <param name="firstPage">The first page's number.</param>
    public static Paging PageNumber(int pageSize, string pageParameter = "page", string sizeParameter = "pageSize",
        string itemsPath = "items", int firstPage = 1) =>
        new CountedPaging(pageSize, pageParameter, sizeParameter, itemsPath, byOffset: false, firstPage);

    /// <summary>
    /// RFC 8288 paging: the next page is the <c>Link</c> header's <c>rel="next"</c> target (resolved against the
    /// page's URL); it ends when there is none.
    /// </summary>
    /// <param name="itemsPath">Path of the items array; empty when the body is the array.</param>
    public static Paging LinkHeader(string itemsPath = "") => new LinkPaging(itemsPath);

    /// <summary>The target of <c>rel="next"</c> in one Link header value, or null.</summary>
    internal static string? NextLinkOf(string header) => LinkPaging.NextLink(header);

    /// <summary>The first request, with whatever the strategy adds to it.</summary>
    internal virtual NetRequest First(NetRequest request) => request;

    /// <summary>The next page's request, or null when <paramref name="page"/> was the last.</summary>
    internal abstract NetRequest? Next(NetRequest current, NetResponse response, JsonElement page, int items, int pageIndex);

    /// <summary>Finds a dotted path in <paramref name="root"/>.</summary>
    internal static bool TryFind(JsonElement root, string path, out JsonElement found)
    {
        found = root;
        if (string.IsNullOrEmpty(path))
        {
            return true;
        }

        foreach (var name in path.Split('.'))
        {
            if (found.ValueKind != JsonValueKind.Object || !found.TryGetProperty(name, out found))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><paramref name="url"/> with query parameter <paramref name="name"/> set to <paramref name="value"/>.</summary>
    internal static string WithQuery(string url, string name, string value)
    {
        var hash = url.IndexOf('#');
        if (hash >= 0)
        {
            url = url[..hash];
        }

        var question = url.IndexOf('?');
        var path = question < 0 ? url : url[..question];
        var query = question < 0 ? string.Empty : url[(question + 1)..];
        var result = new StringBuilder(path).Append('?');
        var first = true;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var key = pair.Split('=', 2)[0];
            if (!string.Equals(Uri.UnescapeDataString(key), name, StringComparison.Ordinal))
            {
                result.Append(first ? string.Empty : "&").Append(pair);
                first = false;
            }
        }

        return result.Append(first ? string.Empty : "&").Append(Uri.EscapeDataString(name)).Append('=')
            .Append(Uri.EscapeDataString(value)).ToString();
    }

    private sealed class CursorPaging(string itemsPath, string nextCursorPath, string? hasMorePath, string cursorParameter)
        : Paging(itemsPath)
    {
        internal override NetRequest? Next(NetRequest current, NetResponse response, JsonElement page, int items, int pageIndex)
        {
            if (hasMorePath is not null && TryFind(page, hasMorePath, out var more) && more.ValueKind == JsonValueKind.False)
            {
                return null;
            }

            if (!TryFind(page, nextCursorPath, out var cursor))
            {
                return null;
            }

            var text = cursor.ValueKind switch
            {
                JsonValueKind.String => cursor.GetString(),
                JsonValueKind.Number => cursor.GetRawText(),
                JsonValueKind.Null => null,
                _ => throw response.FormatError($"$.{nextCursorPath} is a {cursor.ValueKind}, not a cursor (a string or a number)."),
            };
            return string.IsNullOrEmpty(text) ? null : current with { Url = WithQuery(current.Url, cursorParameter, text) };
        }
    }

    private sealed class CountedPaging : Paging
    {
        private readonly int _pageSize;
        private readonly string _positionParameter;
        private readonly string _sizeParameter;
        private readonly bool _byOffset;
        private readonly int _firstPage;

        public CountedPaging(int pageSize, string positionParameter, string sizeParameter, string itemsPath, bool byOffset, int firstPage)
            : base(itemsPath)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
            _pageSize = pageSize;
            _positionParameter = positionParameter;
            _sizeParameter = sizeParameter;
            _byOffset = byOffset;
            _firstPage = firstPage;
        }

        internal override NetRequest First(NetRequest request) => At(request, 0);

        internal override NetRequest? Next(NetRequest current, NetResponse response, JsonElement page, int items, int pageIndex) =>
            items < _pageSize ? null : At(current, pageIndex + 1);

        private NetRequest At(NetRequest request, int pageIndex)
        {
            var position = _byOffset ? (long)pageIndex * _pageSize : _firstPage + pageIndex;
            var url = WithQuery(request.Url, _positionParameter, position.ToString(CultureInfo.InvariantCulture));
            return request with { Url = WithQuery(url, _sizeParameter, _pageSize.ToString(CultureInfo.InvariantCulture)) };
        }
    }

    private sealed class LinkPaging(string itemsPath) : Paging(itemsPath)
    {
        internal override NetRequest? Next(NetRequest current, NetResponse response, JsonElement page, int items, int pageIndex)
        {
            if (!response.Headers.TryGetValues("Link", out var values))
            {
                return null;
            }

            foreach (var value in values)
            {
                if (NextLink(value) is { } target)
                {
                    if (!Uri.TryCreate(response.Uri, target, out var next) ||
                        (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps))
                    {
                        throw response.FormatError($"page {pageIndex + 1}'s Link rel=\"next\" is not an http(s) URL.");
                    }

                    // The server names the next page: on another origin than the one the caller's credentials went
                    // to (the first page's first hop, before any redirect) it gets none of them (see CredentialsOrigin).
                    return current with { Url = next.AbsoluteUri, CredentialsOrigin = current.CredentialsOrigin ?? response.FirstOrigin };
                }
            }

            return null;
        }

        /// <summary>The target of <c>rel="next"</c> in one Link header value (RFC 8288), or null.</summary>
        internal static string? NextLink(string header)
        {
            var i = 0;
            while (i < header.Length)
            {
                var open = header.IndexOf('<', i);
                var close = open < 0 ? -1 : header.IndexOf('>', open);
                if (close < 0)
                {
                    return null;
                }

                var target = header[(open + 1)..close];
                var isNext = false;
                i = close + 1;
                // Parameters up to the comma that ends this link value (commas inside quotes do not end it).
                while (i < header.Length && header[i] != ',')
                {
                    if (header[i] != ';')
                    {
                        i++;
                        continue;
                    }

                    i++;
                    var (name, value) = ReadParameter(header, ref i);
                    if (name.Equals("rel", StringComparison.OrdinalIgnoreCase) &&
                        value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("next", StringComparer.OrdinalIgnoreCase))
                    {
                        isNext = true;
                    }
                }

                if (isNext)
                {
                    return target;
                }
            }

            return null;
        }

        /// <summary>Reads <c>name=value</c> or <c>name="quoted value"</c> from <paramref name="i"/>.</summary>
        private static (string Name, string Value) ReadParameter(string header, ref int i)
        {
            var start = i;
            while (i < header.Length && header[i] is not ('=' or ';' or ','))
            {
                i++;
            }

            var name = header[start..i].Trim();
            if (i >= header.Length || header[i] != '=')
            {
                return (name, string.Empty);
            }

            i++;
            while (i < header.Length && header[i] == ' ')
            {
                i++;
            }

            if (i < header.Length && header[i] == '"')
            {
                var endQuote = header.IndexOf('"', i + 1);
                endQuote = endQuote < 0 ? header.Length : endQuote;
                var quoted = header[(i + 1)..endQuote];
                i = Math.Min(endQuote + 1, header.Length);
                return (name, quoted);
            }

            start = i;
            while (i < header.Length && header[i] is not (';' or ','))
            {
                i++;
            }

            return (name, header[start..i].Trim());
        }
    }
}
