using System.Net;
using NetActors.Errors;

namespace NetActors.Hosting;

/// <summary>
/// The content of a response the <see cref="NetActorsHandler"/> returns: the runtime's streamed body, which holds the
/// origin's connection slot until it is read to its end or disposed (see <see cref="NetStreamedResponse"/>). Reads
/// fail as HttpClient's own content streams do: a broken connection or a body over the limit is an
/// <see cref="HttpIOException"/> around the typed <see cref="NetException"/>, the request's total timeout a
/// <see cref="TaskCanceledException"/> whose inner <see cref="TimeoutException"/> carries the
/// <see cref="NetTimeoutException"/> (as the handler's own timeouts).
/// </summary>
internal sealed class StreamedResponseContent(NetStreamedResponse response) : HttpContent
{
    private readonly HandlerStream _stream = new(response);
    private int _consumed;

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult(Consume());

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Consume());

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Consume();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context,
        CancellationToken cancellationToken)
    {
        // HttpClient's LoadIntoBufferAsync (ResponseContentRead) comes here: read to the end, which frees the slot.
        await using var body = Consume();
        await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    /// <summary>Frees the slot if the body was not read to its end (HttpClient disposes the content with the response).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            response.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The body can be read once, as the socket handler's own content.</summary>
    private Stream Consume() => Interlocked.Exchange(ref _consumed, 1) == 0
        ? _stream
        : throw new InvalidOperationException("The stream was already consumed. It cannot be read again.");

    /// <summary>The runtime's body, with its typed failures in the shapes HttpClient code catches.</summary>
    private sealed class HandlerStream(NetStreamedResponse response) : Stream
    {
        private readonly Stream _body = response.Body;

        public override bool CanRead => _body.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _body.Position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return _body.Read(buffer);
            }
            catch (NetException e)
            {
                throw Translate(e);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (NetException e)
            {
                throw Translate(e);
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }

        private static Exception Translate(NetException e) => e switch
        {
            NetTimeoutException timeout => new TaskCanceledException(timeout.Message, new TimeoutException(timeout.Message, timeout)),
            ResponseTooLargeException => new HttpIOException(HttpRequestError.ConfigurationLimitExceeded, e.Message, e),
            _ => new HttpIOException(HttpRequestError.ResponseEnded, e.Message, e),
        };
    }
}
