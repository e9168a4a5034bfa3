using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors;

/// <summary>
/// The successful outcome of a <see cref="NetRequest"/>: status, headers and the whole body, already read
/// (within the client's <c>max-response-size</c>), so the response can be passed between actors and read
/// more than once.
/// </summary>
public sealed class NetResponse
{
    /// <summary>The origin of the request's first hop (before any redirect), as the runtime keys origins.</summary>
    internal string? FirstOrigin { get; init; }

    internal NetResponse(NetRequest request, Uri uri, HttpStatusCode status, HttpResponseHeaders headers,
        HttpContentHeaders? contentHeaders, ReadOnlyMemory<byte> body, int attempts, TimeSpan elapsed,
        RedactionSettings redaction)
    {
        Request = request;
        Uri = uri;
        StatusCode = status;
        Headers = headers;
        ContentHeaders = contentHeaders;
        Body = body;
        Attempts = attempts;
        Elapsed = elapsed;
        _redaction = redaction;
    }

    private readonly RedactionSettings _redaction;

    private NetRequestInfo Info => new(Request.Client, Request.Method.Method, _redaction.Url(Uri), Attempts);

    /// <summary>The request this answers.</summary>
    public NetRequest Request { get; }

    /// <summary>The URL that produced the response (after redirects).</summary>
    public Uri Uri { get; }

    /// <summary>The response status.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>True for a 2xx status.</summary>
    public bool IsSuccessStatusCode => (int)StatusCode is >= 200 and <= 299;

    /// <summary>The response headers.</summary>
    public HttpResponseHeaders Headers { get; }

    /// <summary>The content headers (Content-Type, Content-Length, …), when the response had a body.</summary>
    public HttpContentHeaders? ContentHeaders { get; }

    /// <summary>The response body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>How many attempts went on the wire for this outcome.</summary>
    public int Attempts { get; }

    /// <summary>Time from accepting the request to its outcome.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The same response for another (deduplicated) request: the body bytes are shared, read-only.</summary>
    internal NetResponse For(NetRequest request) =>
        new(request, Uri, StatusCode, Headers, ContentHeaders, Body, Attempts, Elapsed, _redaction)
        {
            Deduplicated = true,
            FromCache = FromCache,
            Stale = Stale,
            JsonOptions = JsonOptions,
        };

    /// <summary>True when this response came from a wire request made for an identical concurrent request.</summary>
    public bool Deduplicated { get; private init; }

    /// <summary>
    /// True when the body came from the client's HTTP cache: fresh (no request was sent), or confirmed by the
    /// origin with 304 Not Modified, or served stale (see <see cref="Stale"/>).
    /// </summary>
    public bool FromCache { get; internal init; }

    /// <summary>
    /// True when this is a cached response past its freshness, served because the origin could not be reached
    /// (<c>cache.stale-if-error</c>).
    /// </summary>
    public bool Stale { get; internal init; }

    /// <summary>The body of a streamed response, still on the wire (<see cref="INetClient.SendStreamAsync"/>); else null.</summary>
    internal Stream? Stream { get; set; }

    /// <summary>The client's JSON options, used by <see cref="ReadJson{T}"/> when it is given none.</summary>
    internal System.Text.Json.JsonSerializerOptions? JsonOptions { get; set; }

    /// <summary>The body as text, decoded with the declared charset (UTF-8 when none).</summary>
    public string ReadAsString()
    {
        var charset = ContentHeaders?.ContentType?.CharSet;
        var encoding = Encoding.UTF8;
        if (!string.IsNullOrEmpty(charset))
        {
            try
            {
                encoding = Encoding.GetEncoding(charset.Trim('"'));
            }
            catch (ArgumentException)
            {
                // An unknown charset falls back to UTF-8.
            }
        }

        return encoding.GetString(Body.Span);
    }

    /// <summary>
    /// Deserializes the body as JSON. A body that is not the JSON asked for gives a
    /// <see cref="ResponseFormatException"/> naming the type and the position of the problem.
    /// </summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="options">Serializer options; the client's (<c>json.*</c>, or set in C#) when null.</param>
    public T ReadJson<T>(JsonSerializerOptions? options = null)
    {
        try
        {
            var value = JsonSerializer.Deserialize<T>(Body.Span, options ?? JsonOptions ?? NetJson.Default);
            if (value is null && default(T) is null && !typeof(T).IsValueType)
            {
                throw new ResponseFormatException(Info,
                    $"expected JSON for {TypeName(typeof(T))} but the body was JSON null or empty.", null);
            }

            return value!;
        }
        catch (JsonException e)
        {
            var where = e.Path is null ? string.Empty : $" at {e.Path}";
            var line = e.LineNumber is null ? string.Empty : $" (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            throw new ResponseFormatException(Info,
                $"the body is not valid JSON for {TypeName(typeof(T))}{where}{line}: {FirstSentence(e.Message)}", e);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException)
        {
            throw new ResponseFormatException(Info, $"{TypeName(typeof(T))} cannot be read from JSON: {e.Message}", e);
        }
    }

    /// <summary>A <see cref="ResponseFormatException"/> about this response's body.</summary>
    internal ResponseFormatException FormatError(string problem, Exception? inner = null) => new(Info, problem, inner);

    /// <summary>
    /// Reads <paramref name="element"/> (part of this response's body) as <typeparamref name="T"/> with the
    /// client's JSON options; a mismatch names <paramref name="path"/> and the path inside the element.
    /// </summary>
    internal T ReadJsonElement<T>(JsonElement element, string path)
    {
        try
        {
            return element.Deserialize<T>(JsonOptions ?? NetJson.Default)!;
        }
        catch (JsonException e)
        {
            var inner = e.Path is null or "$" ? string.Empty : e.Path[1..];
            throw FormatError($"{path}{inner} is not valid JSON for {TypeName(typeof(T))}: {FirstSentence(e.Message)}", e);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException)
        {
            throw FormatError($"{TypeName(typeof(T))} cannot be read from JSON with the client's options: {e.Message}", e);
        }
    }

    internal static string TypeName(Type t) =>
        t.IsGenericType
            ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(", ", t.GetGenericArguments().Select(TypeName))}>"
            : t.Name;

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "Path: … | LineNumber: …" which we already report in our own words.
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
