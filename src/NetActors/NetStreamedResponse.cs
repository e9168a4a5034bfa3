using System.Net;
using System.Net.Http.Headers;

namespace NetActors;

/// <summary>
/// The outcome of <see cref="INetClient.SendStreamAsync"/>: status and headers as soon as they arrived, and a
/// <see cref="Body"/> that reads from the connection. Dispose it (<c>using</c> / <c>await using</c>).
/// </summary>
/// <remarks>
/// <para>The request holds its origin's connection slot until the body is read to its end, a read fails, or the
/// response is disposed, whichever comes first; the slot is then freed exactly once. So the origin's
/// <c>max-connections</c> counts what the server sees: with a cap of 1, the next request to that origin waits until
/// this body is done.</para>
/// <para>The request's total timeout covers the body too: a stream that is neither read to its end nor disposed is
/// aborted when it runs out, its slot freed, and a read from then on throws <see cref="Errors.NetTimeoutException"/>.
/// The cancellation token given to <see cref="INetClient.SendStreamAsync"/> also aborts the body (a read then throws
/// <see cref="OperationCanceledException"/>); a read's own token cancels that read, which ends the stream. A
/// connection that fails mid-body throws <see cref="Errors.NetworkException"/> from the read (it is not retried: the
/// caller already has the headers), and a body over <see cref="NetRequest.MaxStreamedBytes"/> throws
/// <see cref="Errors.ResponseTooLargeException"/>. Reading after <see cref="Dispose"/> throws
/// <see cref="ObjectDisposedException"/>.</para>
/// <para>Only a 2xx body streams. Any other answer is read whole within <c>max-response-size</c> (the runtime decides
/// on it: retry, redirect, token refresh), and its error is thrown by <c>SendStreamAsync</c>, or, for a request with
/// <see cref="NetRequest.AllowErrorStatus"/>, returned here with its body in memory.</para>
/// </remarks>
public sealed class NetStreamedResponse : IDisposable, IAsyncDisposable
{
    private readonly NetResponse _response;

    internal NetStreamedResponse(NetResponse response)
    {
        _response = response;
        Body = response.Stream ?? (Stream)new MemoryStream(response.Body.ToArray(), writable: false);
    }

    /// <summary>The request this answers.</summary>
    public NetRequest Request => _response.Request;

    /// <summary>The URL that produced the response (after redirects).</summary>
    public Uri Uri => _response.Uri;

    /// <summary>The response status.</summary>
    public HttpStatusCode StatusCode => _response.StatusCode;

    /// <summary>True for a 2xx status.</summary>
    public bool IsSuccessStatusCode => _response.IsSuccessStatusCode;

    /// <summary>The response headers.</summary>
    public HttpResponseHeaders Headers => _response.Headers;

    /// <summary>
    /// The content headers (Content-Type, and Content-Length when the server sent one and the body is not decoded:
    /// a gzip or br body is decoded as it is read, and then its length is not known).
    /// </summary>
    public HttpContentHeaders? ContentHeaders => _response.ContentHeaders;

    /// <summary>How many attempts went on the wire for this outcome.</summary>
    public int Attempts => _response.Attempts;

    /// <summary>Time from accepting the request to its headers.</summary>
    public TimeSpan Elapsed => _response.Elapsed;

    /// <summary>
    /// The body, read from the connection (decoded when the server sent it gzip or br encoded). Read it once, to its
    /// end or as far as you need; it cannot seek.
    /// </summary>
    public Stream Body { get; }

    /// <summary>Frees the connection slot (a body not read to its end closes its connection). Idempotent.</summary>
    public void Dispose() => Body.Dispose();

    /// <summary>Frees the connection slot, like <see cref="Dispose"/>.</summary>
    /// <returns>A completed task: nothing is awaited.</returns>
    public ValueTask DisposeAsync() => Body.DisposeAsync();
}
