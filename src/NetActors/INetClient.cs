namespace NetActors;

/// <summary>
/// The facade app code uses to send requests through the runtime. Every call gets exactly one outcome: a
/// result, a <see cref="Errors.NetException"/>, or <see cref="OperationCanceledException"/> when the caller's
/// token is cancelled (the request then leaves its queue, or its HTTP call is aborted).
/// </summary>
public interface INetClient
{
    /// <summary>Sends a request and returns its response (2xx and 3xx), or throws its typed error.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the request wherever it is.</param>
    Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a request like <see cref="SendAsync"/>, but answers its typed error as a value instead of throwing it:
    /// the outcome holds the response, or the <see cref="Errors.NetException"/> that <see cref="SendAsync"/> would
    /// have thrown. For callers that resend after a refusal (<see cref="Errors.OverloadedException"/>,
    /// <see cref="Errors.RateLimitedException"/>, <see cref="Errors.CircuitOpenException"/>) in a hot loop: a refused
    /// request costs about a microsecond this way, against several for a thrown and caught exception, and under
    /// overload that CPU is what the requests on the wire need. Cancelling <paramref name="cancellationToken"/> still
    /// throws <see cref="OperationCanceledException"/>, and a null request <see cref="ArgumentNullException"/>.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the request wherever it is.</param>
    /// <remarks>
    /// The runtime's own client never throws the error it answers. This default, for other implementations
    /// (decorators, test doubles) that do not override it, catches what <see cref="SendAsync"/> throws.
    /// </remarks>
    async ValueTask<NetOutcome> TrySendAsync(NetRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            return new NetOutcome(await SendAsync(request, cancellationToken).ConfigureAwait(false));
        }
        catch (Errors.NetException e)
        {
            return new NetOutcome(e);
        }
    }

    /// <summary>
    /// Sends a request and returns as soon as its response headers arrived, with a body that reads from the
    /// connection; or throws its typed error. Dispose the response: the request holds its origin's connection slot
    /// until its body is read to the end or the response is disposed (see <see cref="NetStreamedResponse"/>), and at
    /// most until its total timeout. Until the headers arrive it is an ordinary request (queue, token refresh after a
    /// 401, retries, circuit breaker, redirects); once the caller has them it is never retried. A streamed request is
    /// never deduplicated and bypasses the HTTP cache. The client's interceptors' <c>OnResponse</c> hook does not run
    /// for a streamed 2xx (there is no buffered <see cref="NetResponse"/>); their <c>OnRequest</c> hook does.
    /// </summary>
    /// <param name="request">The request; <see cref="NetRequest.MaxStreamedBytes"/> optionally bounds its body.</param>
    /// <param name="cancellationToken">Cancels the request wherever it is, its body included.</param>
    /// <remarks>
    /// The runtime's own client streams. This default, for other implementations (decorators, test doubles) that do
    /// not override it, sends the request buffered through <see cref="SendAsync"/> and returns its body from memory.
    /// </remarks>
    async Task<NetStreamedResponse> SendStreamAsync(NetRequest request, CancellationToken cancellationToken = default) =>
        new(await SendAsync(request, cancellationToken).ConfigureAwait(false));

    /// <summary>GETs <paramref name="url"/> and reads the body as JSON (with the client's JSON options).</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    async Task<T> GetJsonAsync<T>(string client, string url, CancellationToken cancellationToken = default) =>
        (await SendAsync(NetRequest.Get(client, url).WithHeader("Accept", "application/json"), cancellationToken)
            .ConfigureAwait(false)).ReadJson<T>();

    /// <summary>POSTs <paramref name="body"/> as JSON and reads the response body as JSON (both with the client's JSON options).</summary>
    /// <typeparam name="TRequest">The body's type.</typeparam>
    /// <typeparam name="TResponse">The response type.</typeparam>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="body">The body.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    async Task<TResponse> PostJsonAsync<TRequest, TResponse>(string client, string url, TRequest body,
        CancellationToken cancellationToken = default) =>
        (await SendAsync(NetRequest.Post(client, url, NetContent.Json(body)).WithHeader("Accept", "application/json"),
            cancellationToken).ConfigureAwait(false)).ReadJson<TResponse>();

    /// <summary>PUTs <paramref name="body"/> as JSON and reads the response body as JSON (both with the client's JSON options).</summary>
    /// <typeparam name="TRequest">The body's type.</typeparam>
    /// <typeparam name="TResponse">The response type.</typeparam>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="body">The body.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    async Task<TResponse> PutJsonAsync<TRequest, TResponse>(string client, string url, TRequest body,
        CancellationToken cancellationToken = default) =>
        (await SendAsync(NetRequest.Put(client, url, NetContent.Json(body)).WithHeader("Accept", "application/json"),
            cancellationToken).ConfigureAwait(false)).ReadJson<TResponse>();

    /// <summary>Sends a DELETE and returns its response.</summary>
    /// <param name="client">The client name.</param>
    /// <param name="url">Relative or absolute URL.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task<NetResponse> DeleteAsync(string client, string url, CancellationToken cancellationToken = default) =>
        SendAsync(NetRequest.Delete(client, url), cancellationToken);

    /// <summary>
    /// Starts (or replaces) the session of auth realm <paramref name="realm"/> with <paramref name="tokens"/>;
    /// requests waiting for a token go on with it. Returns the new token version.
    /// </summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="tokens">The tokens, for example from your login flow.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer.</param>
    Task<long> SignInAsync(string realm, TokenSet tokens, CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends the session of <paramref name="realm"/>: tokens cleared from the store, every queued or waiting
    /// authenticated request of the realm failed with <see cref="Errors.SessionExpiredException"/>, and later
    /// ones failing fast until the next <see cref="SignInAsync"/>.
    /// </summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer.</param>
    Task TerminateSessionAsync(string realm, CancellationToken cancellationToken = default);
}
