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

    public BodyGuardContent(HttpContent inner)
    {
        _inner = inner;
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
        try
        {
            await _inner.CopyToAsync(wire, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!wire.Failed && e is not OperationCanceledException and not RequestBodyException)
        {
            throw new RequestBodyException("the request body could not be read: " + e.GetType().Name + ": " + e.Message, e);
        }

        if (wire.Declared is { } declared && wire.Written != declared)
        {
            throw new RequestBodyException(
                $"the request body had {wire.Written} bytes, but its declared length is {declared}.", null);
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

        /// <summary>True once a write to the connection failed: what follows is the connection's failure.</summary>
        public bool Failed { get; private set; }

        protected override void BeforeWrite(int count)
        {
            if (Declared is { } limit && Written + count > limit)
            {
                throw new RequestBodyException(
                    $"the request body has more bytes than its declared length ({limit}).", null);
            }
        }

        protected override void OnTargetFailed() => Failed = true;
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
