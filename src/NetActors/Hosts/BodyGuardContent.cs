using System.Net;

namespace NetActors.Hosts;

/// <summary>
/// Wraps one attempt's request body so that a failure of the body itself (its stream throws, it has fewer or
/// more bytes than its declared length) is told apart from a failure of the connection. The first surfaces as a
/// <see cref="RequestBodyException"/> (the caller's problem: never retried, never counted against the origin);
/// the second passes through unchanged (the upstream's, or the network's). Without it both arrive as the same
/// <see cref="HttpRequestException"/>, and one caller's broken stream could open an origin's circuit for everyone.
/// </summary>
internal sealed class BodyGuardContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Exchange? _exchange;

    /// <param name="inner">The body.</param>
    /// <param name="exchange">Told when its attempt was cancelled while the body's own stream was being read (a
    /// stalled body: <see cref="Exchange.BodyStalled"/>), not while the connection was writing.</param>
    public BodyGuardContent(HttpContent inner, Exchange? exchange = null)
    {
        _inner = inner;
        _exchange = exchange;
        foreach (var (name, values) in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(name, values);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var wire = new WireStream(stream, _inner.Headers.ContentLength);
        _wire = wire; // before the registration: a token already cancelled runs its callback at once
        using (_exchange is null ? default : cancellationToken.UnsafeRegister(static s => ((BodyGuardContent)s!).OnCancelled(), this))
        {
            try
            {
                await _inner.CopyToAsync(wire, context, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!wire.Failed && e is not RequestBodyException &&
                                      (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
            {
                // The body's own failure, a cancellation its stream made up included: the caller's problem. A
                // cancellation of the attempt itself passes on (its deadline, its caller).
                throw new RequestBodyException("the request body could not be read: " + e.GetType().Name + ": " + e.Message, e);
            }
            catch when (wire.Failed && _exchange is not null)
            {
                _exchange.BodyCutOff = true; // the connection went while the body was written: see Exchange.BodyCutOff
                throw;
            }
        }

        if (wire.Declared is { } declared && wire.Written != declared)
        {
            throw new RequestBodyException(
                $"the request body had {wire.Written} bytes, but its declared length is {declared}.", null);
        }
    }

    private volatile WireStream? _wire;

    /// <summary>The attempt was cancelled while the body was being sent: stalled if no write to the connection was under way.</summary>
    private void OnCancelled()
    {
        if (_wire is { Writing: false } && _exchange is { } ex)
        {
            ex.BodyStalled = true;
        }
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

    /// <summary>
    /// The connection's stream as the body sees it: it notes when the connection itself failed, and refuses
    /// bytes past the declared length before they reach the connection.
    /// </summary>
    private sealed class WireStream(Stream target, long? declared) : Content.WriteOnlyStream(target)
    {
        public long? Declared { get; } = declared;

        private volatile bool _writing;

        /// <summary>True once a write to the connection failed: what follows is the connection's failure.</summary>
        public bool Failed { get; private set; }

        /// <summary>True while a write or flush to the connection is under way (the time is the connection's, not the body's).</summary>
        public bool Writing => _writing;

        protected override void BeforeWrite(int count)
        {
            if (Declared is { } limit && Written + count > limit)
            {
                throw new RequestBodyException(
                    $"the request body has more bytes than its declared length ({limit}).", null);
            }

            _writing = true;
        }

        protected override void AfterWrite(int count) => _writing = false;

        protected override void OnTargetFailed()
        {
            Failed = true;
            _writing = false;
        }

        public override void Flush()
        {
            _writing = true;
            try
            {
                base.Flush();
            }
            finally
            {
                _writing = false;
            }
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            _writing = true;
            try
            {
                await base.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writing = false;
            }
        }
    }
}

/// <summary>The request's own body failed while it was sent (not the connection): the caller's problem.</summary>
internal sealed class RequestBodyException(string message, Exception? inner) : Exception(message, inner)
{
    /// <summary>The body failure somewhere in <paramref name="error"/>'s chain of inner exceptions, or null.</summary>
    public static RequestBodyException? In(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is RequestBodyException body)
            {
                return body;
            }
        }

        return null;
    }
}
