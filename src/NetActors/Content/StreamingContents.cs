using System.Net;
using System.Net.Http.Headers;

namespace NetActors.Content;

/// <summary>
/// A body read from a stream that is opened again for every attempt (a file, or the caller's stream factory),
/// so it is never held in memory whole and a retry sends the same bytes.
/// </summary>
internal sealed class ReopenedStreamContent : NetContent
{
    private readonly Func<Stream> _open;
    private readonly Func<long?> _length;
    private readonly MediaTypeHeaderValue _mediaType;
    private WeakReference<Stream>? _previous;

    public ReopenedStreamContent(Func<Stream> open, Func<long?> length, string mediaType)
    {
        _open = open;
        _length = length;
        _mediaType = ParseMediaType(mediaType);
        MediaType = mediaType;
    }

    public override long? Length => _length();

    public override string? MediaType { get; }

    /// <summary>Checks a media type when the body is built, so a bad one never leaves a stream open.</summary>
    internal static MediaTypeHeaderValue ParseMediaType(string mediaType) =>
        MediaTypeHeaderValue.TryParse(mediaType, out var parsed)
            ? parsed
            : throw new ArgumentException($"'{mediaType}' is not a media type (for example application/pdf).", nameof(mediaType));

    public override HttpContent CreateHttpContent()
    {
        var length = Length;
        var stream = _open() ?? throw new InvalidOperationException("the body's stream factory returned null.");
        if (_previous is not null && _previous.TryGetTarget(out var previous) && ReferenceEquals(previous, stream))
        {
            // A retry or a 307 would send what is left of a consumed stream (often nothing) as if it were the body.
            throw new InvalidOperationException(
                "the body's stream factory returned the stream of an earlier attempt, which cannot be sent again; " +
                "it must open a new stream positioned at the start of the body each time it is called.");
        }

        _previous = new WeakReference<Stream>(stream);
        if (length is { } declared && stream.CanSeek && stream.Length - stream.Position is var actual && actual != declared)
        {
            // Known before anything is sent: a body whose length lies is refused here, not cut off on the wire.
            stream.Dispose();
            throw new InvalidOperationException($"the body's stream has {actual} bytes, but its declared length is {declared}.");
        }
        var content = new StreamContent(stream, 64 * 1024);
        content.Headers.ContentType = _mediaType;
        if (length is { } known)
        {
            content.Headers.ContentLength = known;
        }

        return content;
    }

    /// <summary>A file, opened for sequential async reads.</summary>
    public static ReopenedStreamContent FromFile(string path, string mediaType)
    {
        var full = Path.GetFullPath(path);
        return new ReopenedStreamContent(
            () => new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024,
                FileOptions.Asynchronous | FileOptions.SequentialScan),
            () => new FileInfo(full) is { Exists: true } info ? info.Length : null,
            mediaType);
    }
}

/// <summary>
/// Wraps one attempt's content and reports the bytes written to the connection, at most every 64 KiB and once
/// at the end.
/// </summary>
internal sealed class ProgressContent : HttpContent
{
    private const long ReportEvery = 64 * 1024;
    private readonly HttpContent _inner;
    private readonly IProgress<TransferProgress> _progress;
    private readonly int _attempt;

    public ProgressContent(HttpContent inner, IProgress<TransferProgress> progress, int attempt)
    {
        _inner = inner;
        _progress = progress;
        _attempt = attempt;
        foreach (var (name, values) in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(name, values);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var total = Headers.ContentLength;
        var counting = new CountingStream(stream, (sent, final) => _progress.Report(new TransferProgress(sent, total, _attempt)));
        await _inner.CopyToAsync(counting, context, cancellationToken).ConfigureAwait(false);
        counting.ReportFinal();
    }

    protected override bool TryComputeLength(out long length)
    {
        var known = _inner.Headers.ContentLength;
        length = known ?? 0;
        return known is not null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>A write-only pass-through that reports the bytes sent, every <see cref="ReportEvery"/> and at the end.</summary>
    internal sealed class CountingStream(Stream target, Action<long, bool> report) : WriteOnlyStream(target)
    {
        private long _reported;

        public void ReportFinal()
        {
            _reported = Written;
            report(Written, true);
        }

        protected override void AfterWrite(int count)
        {
            if (Written - _reported >= ReportEvery)
            {
                _reported = Written;
                report(Written, false);
            }
        }
    }
}
