using Akka.Actor;
using NetActors.Errors;

namespace NetActors.Hosts;

/// <summary>
/// The body of a streamed response, read by the caller straight from the connection. The attempt's slot is the
/// stream's: the host counts it on the wire until the stream ends, and it ends exactly once, whichever comes first:
/// the body is read to its end, a read fails, the caller disposes it, or the attempt's token is cancelled (the
/// request's total timeout, its caller's cancellation, the host stopping). Ending disposes the response (the
/// connection goes back to the pool, or is closed when the body was not read to its end) and tells the host, which
/// frees the slot. After the end a read returns 0 (the body was read), or throws what ended it, typed.
/// </summary>
internal sealed class StreamedBody : Stream
{
    /// <summary>Why the stream ended, when no exception says it: the body was read to its end.</summary>
    private static readonly object EndOfBody = new();

    /// <summary>Why the stream ended, when no exception says it: the caller disposed it.</summary>
    private static readonly object DisposedByCaller = new();

    private readonly Exchange _ex;
    private readonly HttpRequestMessage _message;
    private readonly HttpResponseMessage _response;
    private readonly Stream _inner;
    private readonly IActorRef _owner;
    private readonly long? _limit;
    private CancellationTokenRegistration _abort;
    private object? _end;
    private long _read;
    private int _disposed;

    public StreamedBody(Exchange ex, HttpRequestMessage message, HttpResponseMessage response, Stream inner, IActorRef owner)
    {
        _ex = ex;
        _message = message;
        _response = response;
        _inner = inner;
        _owner = owner;
        _limit = ex.Request.MaxStreamedBytes;
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => Interlocked.Read(ref _read);

    /// <summary>True once the stream has ended (its slot is freed or being freed).</summary>
    public bool Ended => Volatile.Read(ref _end) is not null;

    /// <summary>
    /// Ends the stream when <paramref name="attempt"/> is cancelled. Called after the host was told of the stream,
    /// so the host always hears of the stream before it hears of its end.
    /// </summary>
    public void Arm(CancellationToken attempt) =>
        _abort = attempt.UnsafeRegister(static state => ((StreamedBody)state!).OnAborted(), this);

    /// <summary>False once disposed; a body read to its end can still be read (it gives 0), as any stream at its end.</summary>
    public override bool CanRead => Volatile.Read(ref _disposed) == 0;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (Volatile.Read(ref _end) is { } end)
        {
            return AfterEnd(end);
        }

        var asked = buffer.Length;

        int read;
        try
        {
            read = _inner.Read(buffer);
        }
        catch (Exception e)
        {
            throw Failed(e, CancellationToken.None);
        }

        return Counted(read, asked);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _end) is { } end)
        {
            return AfterEnd(end);
        }

        var asked = buffer.Length;

        int read;
        try
        {
            read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Failed(e, cancellationToken);
        }

        return Counted(read, asked);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        End(DisposedByCaller);
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, 1);
        End(DisposedByCaller);
        return base.DisposeAsync();
    }

    /// <summary>
    /// A read returned: the end of the body ends the stream; a byte past the limit fails it. A read of an empty
    /// buffer (the .NET way to wait for data without one, as PipeReader does) returns 0 without meaning the end.
    /// </summary>
    private int Counted(int read, int asked)
    {
        if (read == 0 && asked == 0)
        {
            return 0;
        }

        if (read == 0)
        {
            // An end that raced this read (a timeout, a cancellation, the host stopping) disposed the response under
            // it, and a disposed response stream reads 0: that is the end's error, not the body's end.
            End(EndOfBody);
            var end = Volatile.Read(ref _end)!;
            return ReferenceEquals(end, EndOfBody) ? 0 : AfterEnd(end);
        }

        var total = Interlocked.Add(ref _read, read);
        if (_limit is { } limit && total > limit)
        {
            End(new ResponseTooLargeException(_ex.Info(), limit, _response.Content.Headers.ContentLength));
            return AfterEnd(_end!);
        }

        return read;
    }

    /// <summary>What a read gets once the stream has ended (once disposed, whatever ended it first: disposed).</summary>
    private int AfterEnd(object end) => Volatile.Read(ref _disposed) != 0
        ? throw new ObjectDisposedException(nameof(NetStreamedResponse), "The streamed response was disposed.")
        : end switch
    {
        Exception error => throw error,
        _ when ReferenceEquals(end, EndOfBody) => 0,
        _ => throw new ObjectDisposedException(nameof(NetStreamedResponse), "The streamed response was disposed."),
    };

    /// <summary>
    /// A read threw: the stream ends (a connection that failed or whose read was cancelled cannot go on), and the
    /// caller gets the typed reason: what ended it already (a timeout, a cancellation, a disposal), or this failure.
    /// </summary>
    private Exception Failed(Exception error, CancellationToken read)
    {
        Exception reason = error switch
        {
            OperationCanceledException when read.IsCancellationRequested =>
                new OperationCanceledException("The read of the streamed response was cancelled.", error, read),
            InvalidDataException bad => // a gzip or brotli stream that is not one: the body's format, not the connection
                new ResponseFormatException(_ex.Info(), "its Content-Encoding could not be decoded: " + bad.Message, error),
            _ => new NetworkException(_ex.Info(), "the connection failed while the streamed response was read", error),
        };
        End(reason);
        var end = Volatile.Read(ref _end)!;
        return end as Exception ?? new ObjectDisposedException(nameof(NetStreamedResponse), "The streamed response was disposed.");
    }

    /// <summary>The attempt's token was cancelled: the total timeout ran out, its caller cancelled, or the host stopped.</summary>
    private void OnAborted()
    {
        Exception reason = _ex.CallerCancelled
            ? new OperationCanceledException("The caller cancelled the request.", _ex.CallerToken)
            : _ex.Aborted
                ? new NetShutdownException(_ex.Info())
                : _ex.DeadlineIsTotal
                    ? new NetTimeoutException(_ex.Info(), _ex.TotalTimeout, TimeoutKind.Total)
                    : new NetTimeoutException(_ex.Info(), _ex.Client.ResponseTimeout, TimeoutKind.Attempt);
        End(reason);
    }

    /// <summary>Ends the stream once: the response is disposed and the host frees the slot.</summary>
    private void End(object reason)
    {
        if (Interlocked.CompareExchange(ref _end, reason, null) is not null)
        {
            return;
        }

        _abort.Unregister(); // never blocks, also from inside the callback itself
        try
        {
            _response.Dispose(); // read to its end: back to the pool; otherwise the connection is closed
            _message.Dispose();
        }
        finally
        {
            _owner.Tell(new StreamEnded(_ex), ActorRefs.NoSender);
        }
    }
}
