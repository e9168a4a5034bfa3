using System.Net.Http.Headers;

namespace NetActors.Content;

/// <summary>
/// Describes a <c>multipart/form-data</c> body: text fields and files, one or many per field name. Files are
/// streamed from disk (or from the caller's stream factory) on every attempt, never loaded whole; the boundary
/// is fixed when the body is built, so every attempt sends identical bytes.
/// </summary>
public sealed class MultipartBuilder
{
    private readonly List<Part> _parts = [];

    internal MultipartBuilder()
    {
    }

    /// <summary>A text field.</summary>
    /// <param name="name">The field name.</param>
    /// <param name="value">The value, sent as UTF-8.</param>
    public MultipartBuilder Field(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        return Add(name, null, () => new ByteArrayContent(bytes));
    }

    /// <summary>A file from disk; call again with the same <paramref name="name"/> for several files in one field.</summary>
    /// <param name="name">The field name.</param>
    /// <param name="path">The file's path; it must exist when the request is sent.</param>
    /// <param name="mediaType">The file's media type (default <c>application/octet-stream</c>).</param>
    /// <param name="fileName">The file name sent (default: the name of <paramref name="path"/>).</param>
    public MultipartBuilder File(string name, string path, string? mediaType = null, string? fileName = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var content = Content.ReopenedStreamContent.FromFile(path, mediaType ?? "application/octet-stream");
        return Add(name, fileName ?? System.IO.Path.GetFileName(path), content.CreateHttpContent);
    }

    /// <summary>A file from a stream the caller opens; <paramref name="open"/> is called once per attempt.</summary>
    /// <param name="name">The field name.</param>
    /// <param name="open">Opens a new stream positioned at the start of the file's bytes.</param>
    /// <param name="fileName">The file name sent.</param>
    /// <param name="length">The length in bytes, when known (lets the body have a Content-Length).</param>
    /// <param name="mediaType">The media type (default <c>application/octet-stream</c>).</param>
    public MultipartBuilder Stream(string name, Func<Stream> open, string fileName, long? length = null, string? mediaType = null)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        var content = new Content.ReopenedStreamContent(open, () => length, mediaType ?? "application/octet-stream");
        return Add(name, fileName, content.CreateHttpContent);
    }

    /// <summary>A file from bytes in memory.</summary>
    /// <param name="name">The field name.</param>
    /// <param name="bytes">The bytes; not copied.</param>
    /// <param name="fileName">The file name sent.</param>
    /// <param name="mediaType">The media type (default <c>application/octet-stream</c>).</param>
    public MultipartBuilder Bytes(string name, ReadOnlyMemory<byte> bytes, string fileName, string? mediaType = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        var media = Content.ReopenedStreamContent.ParseMediaType(mediaType ?? "application/octet-stream");
        return Add(name, fileName, () => new ReadOnlyMemoryContent(bytes) { Headers = { ContentType = media } });
    }

    private MultipartBuilder Add(string name, string? fileName, Func<HttpContent> part)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _parts.Add(new Part(name, fileName, part));
        return this;
    }

    internal NetContent Build() => new MultipartContent([.. _parts], "netactors-" + Guid.NewGuid().ToString("N"));

    /// <summary>One part: its field name, its file name (null for a text field) and how to make its content.</summary>
    private sealed record Part(string Name, string? FileName, Func<HttpContent> Create);

    private sealed class MultipartContent(Part[] parts, string boundary) : NetContent
    {
        public override long? Length => null; // computed by MultipartFormDataContent from its parts, per attempt

        public override string? MediaType => "multipart/form-data";

        public override HttpContent CreateHttpContent()
        {
            var form = new MultipartFormDataContent(boundary);
            try
            {
                foreach (var part in parts)
                {
                    var content = part.Create();
                    if (part.FileName is { } fileName)
                    {
                        form.Add(content, part.Name, fileName);
                    }
                    else
                    {
                        form.Add(content, part.Name);
                    }
                }

                return form;
            }
            catch
            {
                form.Dispose();
                throw;
            }
        }
    }
}
