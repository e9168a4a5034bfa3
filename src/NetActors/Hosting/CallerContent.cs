using System.Net;
using System.Net.Http.Json;
using NetActors.Configuration;

namespace NetActors.Hosting;

/// <summary>
/// The body of a request that came through <see cref="NetActorsHandler"/>: the caller's own
/// <see cref="HttpContent"/>, sent as it is (its bytes and every content header, parameters included:
/// <c>application/json; charset=utf-8</c>, <c>multipart/form-data; boundary=...</c>), and sent again unchanged
/// on a retry.
/// </summary>
/// <remarks>
/// Content that can write itself more than once is not copied: byte, string, memory, form and
/// <c>JsonContent</c> bodies, a <see cref="StreamContent"/> over a seekable stream (a file, a memory stream; it
/// rewinds for every attempt), and multipart bodies made of those. Anything else (a stream that cannot seek, a
/// custom <see cref="HttpContent"/>) is read into memory once before the first attempt, so that every attempt
/// sends the same bytes.
/// </remarks>
internal sealed class CallerContent : NetContent
{
    private readonly HttpContent _content;

    private CallerContent(HttpContent content, bool buffered)
    {
        _content = content;
        Buffered = buffered;
    }

    /// <summary>True when the body had to be read into memory to be replayable.</summary>
    public bool Buffered { get; }

    /// <inheritdoc />
    public override long? Length => _content.Headers.ContentLength;

    /// <inheritdoc />
    public override string? MediaType => _content.Headers.ContentType?.ToString();

    /// <summary>
    /// Wraps <paramref name="content"/>, reading it into memory first only when it cannot be written twice.
    /// Null and a problem (naming the header, never its value) when a content header is not acceptable.
    /// </summary>
    public static async Task<(CallerContent? Content, string? Problem)> FromAsync(HttpContent content,
        CancellationToken cancellationToken)
    {
        if (CheckHeaders(content) is { } problem)
        {
            return (null, problem);
        }

        if (await IsReplayableAsync(content, cancellationToken).ConfigureAwait(false))
        {
            return (new CallerContent(content, buffered: false), null);
        }

        return (new CallerContent(await BufferAsync(content, cancellationToken).ConfigureAwait(false), buffered: true), null);
    }

    /// <inheritdoc />
    public override HttpContent CreateHttpContent() => new Attempt(_content);

    private static string? CheckHeaders(HttpContent content)
    {
        foreach (var (name, values) in content.Headers.NonValidated)
        {
            foreach (var value in values)
            {
                if (HeaderRules.Check(name, value) is { } problem)
                {
                    return problem;
                }
            }
        }

        if (content is MultipartContent multipart)
        {
            foreach (var part in multipart)
            {
                if (CheckHeaders(part) is { } problem)
                {
                    return problem;
                }
            }
        }

        return null;
    }

    private static async ValueTask<bool> IsReplayableAsync(HttpContent content, CancellationToken cancellationToken)
    {
        switch (content)
        {
            case ByteArrayContent or ReadOnlyMemoryContent or JsonContent:
                return true; // StringContent and FormUrlEncodedContent are ByteArrayContent; JsonContent serializes per write
            case MultipartContent multipart:
                foreach (var part in multipart)
                {
                    if (!await IsReplayableAsync(part, cancellationToken).ConfigureAwait(false))
                    {
                        return false;
                    }
                }

                return true;
            case StreamContent:
                // StreamContent rewinds a seekable stream for every write. Its read stream shows whether the
                // stream can seek without reading from it.
                var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                return stream.CanSeek;
            default:
                return false;
        }
    }

    private static async Task<HttpContent> BufferAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content is MultipartContent multipart && multipart.Headers.ContentType is { } type &&
            Boundary(type) is { } boundary)
        {
            // The same multipart body with its replayable parts kept and the others read into memory: same
            // boundary, same part headers, so the same bytes.
            var copy = new MultipartContent(type.MediaType!["multipart/".Length..], boundary);
            CopyHeaders(multipart, copy);
            foreach (var part in multipart)
            {
                copy.Add(await IsReplayableAsync(part, cancellationToken).ConfigureAwait(false)
                    ? part
                    : await BufferAsync(part, cancellationToken).ConfigureAwait(false));
            }

            return copy;
        }

        // Read once (ReadAsStreamAsync may already have been called to look at it; it returns the same stream).
        var source = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var memory = new MemoryStream();
        await source.CopyToAsync(memory, cancellationToken).ConfigureAwait(false);
        var bytes = new ByteArrayContent(memory.ToArray());
        CopyHeaders(content, bytes);
        return bytes;
    }

    private static string? Boundary(System.Net.Http.Headers.MediaTypeHeaderValue type) =>
        type.MediaType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true &&
        type.Parameters.FirstOrDefault(p => p.Name.Equals("boundary", StringComparison.OrdinalIgnoreCase))?.Value is { Length: > 0 } value
            ? value.Trim('"')
            : null;

    private static void CopyHeaders(HttpContent from, HttpContent to)
    {
        foreach (var (name, values) in from.Headers.NonValidated)
        {
            if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                to.Headers.Remove(name);
                to.Headers.TryAddWithoutValidation(name, values);
            }
        }
    }

    /// <summary>
    /// One attempt's view of the caller's content: its headers copied as they are, its bytes written by the
    /// content itself. Disposing it leaves the caller's content alone (the caller's request owns it).
    /// </summary>
    private sealed class Attempt : HttpContent
    {
        private readonly HttpContent _inner;

        public Attempt(HttpContent inner)
        {
            _inner = inner;
            CopyHeaders(inner, this);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            _inner.CopyToAsync(stream, context);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, context, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            var known = _inner.Headers.ContentLength;
            length = known ?? 0;
            return known is not null;
        }
    }
}
