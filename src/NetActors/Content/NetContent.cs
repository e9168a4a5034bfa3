using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace NetActors.Content;

/// <summary>
/// A request body that can be sent more than once: every attempt (a retry, a retry after a token refresh)
/// gets a fresh <see cref="HttpContent"/> with the same bytes.
/// </summary>
public abstract class NetContent
{
    /// <summary>The body length in bytes, when known in advance.</summary>
    public abstract long? Length { get; }

    /// <summary>The media type, for example <c>application/json</c>.</summary>
    public abstract string? MediaType { get; }

    /// <summary>Creates the content for one attempt.</summary>
    public abstract HttpContent CreateHttpContent();

    /// <summary>A body of bytes.</summary>
    /// <param name="bytes">The bytes; not copied, do not change them afterwards.</param>
    /// <param name="mediaType">The media type, parameters included if any (<c>application/json; charset=utf-8</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="mediaType"/> is not a media type.</exception>
    public static NetContent Bytes(ReadOnlyMemory<byte> bytes, string mediaType = "application/octet-stream") =>
        new BytesContent(bytes, ParseMediaType(mediaType, charset: null));

    /// <summary>A text body, UTF-8 encoded (the media type says <c>charset=utf-8</c>).</summary>
    /// <param name="text">The text.</param>
    /// <param name="mediaType">The media type, parameters included if any (<c>text/csv; charset=utf-8</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="mediaType"/> is not a media type, or names a charset other than UTF-8.</exception>
    public static NetContent Text(string text, string mediaType = "text/plain") =>
        new BytesContent(Encoding.UTF8.GetBytes(text), ParseMediaType(mediaType, charset: "utf-8"));

    /// <summary>
    /// Parses a media type with its parameters; <paramref name="charset"/>, when given, is set (and a different
    /// one in <paramref name="mediaType"/> refused, since the bytes are in <paramref name="charset"/>).
    /// </summary>
    private static MediaTypeHeaderValue ParseMediaType(string mediaType, string? charset)
    {
        var parsed = Content.ReopenedStreamContent.ParseMediaType(mediaType);
        if (charset is not null)
        {
            if (parsed.CharSet is { } given && !given.Trim('"').Equals(charset, StringComparison.OrdinalIgnoreCase) &&
                !given.Trim('"').Equals("utf8", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"the text is sent as {charset}, but '{mediaType}' names charset {given}.", nameof(mediaType));
            }

            parsed.CharSet = charset;
        }

        return parsed;
    }

    /// <summary>
    /// A JSON body, serialized once with System.Text.Json: with <paramref name="options"/>, or, when null, with
    /// the options of the client that sends it (its <c>json.*</c> settings or <c>WithJson</c>).
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="options">Serializer options; the sending client's when null.</param>
    public static NetContent Json<T>(T value, JsonSerializerOptions? options = null) =>
        options is null ? new ClientJsonContent<T>(value) : JsonBytes(value, options);

    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json") { CharSet = "utf-8" };

    private static BytesContent JsonBytes<T>(T value, JsonSerializerOptions options) =>
        new(JsonSerializer.SerializeToUtf8Bytes(value, options), JsonMediaType);

    /// <summary>This content as the client that sends it has it (JSON bodies take the client's options).</summary>
    internal virtual NetContent ForClient(JsonSerializerOptions clientOptions) => this;

    /// <summary>Whether <see cref="ForClient"/> has work to do (a JSON body not yet serialized).</summary>
    internal virtual bool WaitsForClient => false;

    /// <summary>A JSON body waiting for its client's options; serialized once, when the request is prepared.</summary>
    private sealed class ClientJsonContent<T>(T value) : NetContent
    {
        public override long? Length => null;

        public override string? MediaType => "application/json";

        public override HttpContent CreateHttpContent() => JsonBytes(value, NetJson.Default).CreateHttpContent();

        internal override NetContent ForClient(JsonSerializerOptions clientOptions) => JsonBytes(value, clientOptions);

        internal override bool WaitsForClient => true;
    }

    /// <summary>An <c>application/x-www-form-urlencoded</c> body.</summary>
    /// <param name="fields">The form fields.</param>
    public static NetContent Form(IEnumerable<KeyValuePair<string, string>> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var sb = new StringBuilder();
        foreach (var (k, v) in fields)
        {
            if (sb.Length > 0)
            {
                sb.Append('&');
            }

            sb.Append(Uri.EscapeDataString(k)).Append('=').Append(Uri.EscapeDataString(v));
        }

        return new BytesContent(Encoding.ASCII.GetBytes(sb.ToString()), FormMediaType);
    }

    /// <summary>
    /// A file streamed from disk, opened again for every attempt (never loaded whole into memory, and a retry
    /// sends the same bytes).
    /// </summary>
    /// <param name="path">The file's path; it must exist when the request is sent.</param>
    /// <param name="mediaType">The media type.</param>
    public static NetContent File(string path, string mediaType = "application/octet-stream")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Content.ReopenedStreamContent.FromFile(path, mediaType);
    }

    /// <summary>
    /// A body read from a stream that <paramref name="open"/> creates, once per attempt, so a retry sends the
    /// same bytes.
    /// </summary>
    /// <param name="open">Opens a new stream positioned at the start of the body.</param>
    /// <param name="length">The length in bytes, when known (sent as Content-Length; otherwise chunked).</param>
    /// <param name="mediaType">The media type.</param>
    public static NetContent Stream(Func<Stream> open, long? length = null, string mediaType = "application/octet-stream")
    {
        ArgumentNullException.ThrowIfNull(open);
        return new Content.ReopenedStreamContent(open, () => length, mediaType);
    }

    /// <summary>A <c>multipart/form-data</c> body of text fields and files.</summary>
    /// <param name="build">Adds the fields and files, in order.</param>
    public static NetContent Multipart(Action<MultipartBuilder> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        var builder = new MultipartBuilder();
        build(builder);
        return builder.Build();
    }

    private static readonly MediaTypeHeaderValue FormMediaType = new("application/x-www-form-urlencoded");

    /// <summary>Bytes with a media type parsed once; each attempt gets its own copy of the header value.</summary>
    private sealed class BytesContent(ReadOnlyMemory<byte> bytes, MediaTypeHeaderValue mediaType) : NetContent
    {
        public override long? Length => bytes.Length;

        public override string? MediaType { get; } = mediaType.ToString();

        public override HttpContent CreateHttpContent()
        {
            var content = new ReadOnlyMemoryContent(bytes);
            content.Headers.ContentType = (MediaTypeHeaderValue)((ICloneable)mediaType).Clone();
            return content;
        }
    }
}
