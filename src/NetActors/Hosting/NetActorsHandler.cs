using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;

namespace NetActors.Hosting;

/// <summary>
/// The primary handler of an <see cref="HttpClient"/> that sends through the NetActors runtime as client
/// <see cref="Client"/>: existing <c>HttpClient</c> code and typed clients (Refit included) get its connection
/// caps, auth, retries, rate limits and metrics (and, for buffered responses, deduplication and the HTTP cache). Error statuses come back as responses, as
/// <c>HttpClient</c> code expects; failures without a response throw <see cref="HttpRequestException"/> with the
/// typed <see cref="NetException"/> inside, and timeouts throw <see cref="TaskCanceledException"/> whose inner
/// exception is a <see cref="TimeoutException"/> carrying the <see cref="NetTimeoutException"/> (as
/// <c>HttpClient</c>'s own timeout does).
/// </summary>
/// <remarks>
/// <para>
/// Responses are streamed (<see cref="INetClient.SendStreamAsync"/>), so <see cref="HttpCompletionOption.ResponseHeadersRead"/>
/// works as with the socket handler: <c>SendAsync</c> returns when the headers arrived and the body reads from the
/// connection. The request holds its origin's connection slot until the body is read to its end or the response is
/// disposed, at most until the client's total timeout (which covers the body: a read after it fails). With the default
/// <see cref="HttpCompletionOption.ResponseContentRead"/>, HttpClient reads the body into its buffer before returning,
/// which frees the slot. The client's <c>max-response-size</c> does not apply here (it bounds buffered
/// <see cref="NetResponse"/> bodies): HttpClient's <see cref="HttpClient.MaxResponseContentBufferSize"/> bounds what it
/// buffers, and <see cref="MaxResponseBytes"/> bounds a body per request. Error statuses, whose bodies the runtime
/// reads to decide on them (retries, redirects, a token refresh), arrive buffered, within <c>max-response-size</c>.
/// Streamed requests are never deduplicated and bypass the client's HTTP cache; a request that wants those (and
/// <c>max-response-size</c>) sets <see cref="Buffered"/>, or the handler is registered with
/// <c>streamResponses: false</c>: the body then arrives whole, and <c>ResponseHeadersRead</c> makes no difference.
/// </para>
/// <para>
/// The request's content is sent as the caller built it: its bytes and every content header, parameters included
/// (a charset, a multipart boundary). A retry sends the same bytes: byte, string, form, JSON and multipart content
/// and streams that can seek are written again for each attempt; a stream that cannot seek (or a custom content
/// type) is read into memory once before the first attempt. Header values with CR, LF, NUL or non-ASCII
/// characters are refused with an <see cref="HttpRequestException"/> around an
/// <see cref="InvalidRequestException"/>; nothing is sent.
/// </para>
/// </remarks>
/// <param name="net">The runtime.</param>
/// <param name="client">A configured NetActors client name.</param>
/// <param name="streamResponses">False: every response is buffered (deduplication and the cache apply).</param>
public sealed class NetActorsHandler(INetClient net, string client, bool streamResponses = true) : HttpMessageHandler
{
    /// <summary>
    /// Set in <see cref="HttpRequestMessage.Options"/>: true sends this request buffered (its response body whole in
    /// memory, within <c>max-response-size</c>; deduplicated and cached like any <see cref="INetClient.SendAsync"/>),
    /// false streams it, whatever the handler's default.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> Buffered = new("NetActors.Buffered");

    /// <summary>
    /// The most bytes a response body may have (<see cref="NetRequest.MaxStreamedBytes"/>), set per request in
    /// <see cref="HttpRequestMessage.Options"/>: a read past it fails (an <see cref="IOException"/> around the
    /// <see cref="ResponseTooLargeException"/>). Without it the handler sets no limit of its own; a buffered read
    /// (the default <see cref="HttpCompletionOption.ResponseContentRead"/>) is bounded by
    /// <see cref="HttpClient.MaxResponseContentBufferSize"/>, not by the client's <c>max-response-size</c>.
    /// </summary>
    public static readonly HttpRequestOptionsKey<long> MaxResponseBytes = new("NetActors.MaxResponseBytes");

    /// <summary>The NetActors client requests are sent as.</summary>
    public string Client { get; } = client;

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var url = uri.IsAbsoluteUri ? uri.AbsoluteUri : uri.OriginalString;
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in request.Headers.NonValidated)
        {
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) &&
                values.All(v => v.Equals("chunked", StringComparison.OrdinalIgnoreCase)))
            {
                continue; // TransferEncodingChunked: framing is the connection's choice, as in HttpClient's own handler
            }

            headers.Add(new(name, string.Join(name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values)));
        }

        NetContent? content = null;
        if (request.Content is { } body)
        {
            // The caller's content goes as it is, content headers included; the runtime checks the other headers.
            NetContent? callerContent;
            string? problem;
            try
            {
                (callerContent, problem) = await CallerContent.FromAsync(body, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A body that must be read into memory (it cannot be written twice) failed while it was read: the
                // caller's problem, typed as HttpClient's own handler would surface it.
                (callerContent, problem) = (null, "the request body could not be read: " + e.GetType().Name + ": " + e.Message);
            }

            if (problem is not null)
            {
                var info = new NetRequestInfo(Client, request.Method.Method, RedactionSettings.Default.Url(url), 0);
                var invalid = new InvalidRequestException(info, problem);
                throw new HttpRequestException(invalid.Message, invalid);
            }

            content = callerContent;
        }

        // The caller's Uri as it is: an absolute one is sent without being parsed again.
        var netRequest = new NetRequest(Client, request.Method, uri)
        {
            Headers = headers,
            Content = content,
            AllowErrorStatus = true,
            MaxStreamedBytes = request.Options.TryGetValue(MaxResponseBytes, out var limit) ? limit : null,
        };

        // Streamed unless asked otherwise: the handler cannot see the caller's HttpCompletionOption. With
        // ResponseHeadersRead the caller reads the body from the connection; with ResponseContentRead (the default)
        // HttpClient itself reads it to the end into its buffer before SendAsync returns, which frees the slot too.
        var buffered = request.Options.TryGetValue(Buffered, out var asked) ? asked : !streamResponses;
        NetStreamedResponse? response = null;
        NetResponse? whole = null;
        try
        {
            if (buffered)
            {
                whole = await net.SendAsync(netRequest, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                response = await net.SendStreamAsync(netRequest, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NetTimeoutException e)
        {
            // As HttpClient's own timeout: a TaskCanceledException whose inner TimeoutException says so.
            throw new TaskCanceledException(e.Message, new TimeoutException(e.Message, e));
        }
        catch (HttpStatusException e)
        {
            throw new HttpRequestException(e.Message, e, e.StatusCode);
        }
        catch (NetException e)
        {
            throw new HttpRequestException(e.Message, e);
        }

        // As SocketsHttpHandler does after redirects: the request message names the URI that answered.
        // A streamed body holds its slot until it is disposed, so nothing here may leave it with no owner.
        var answered = whole?.Uri ?? response!.Uri;
        if (answered is not null && answered != request.RequestUri)
        {
            try
            {
                request.RequestUri = answered;
            }
            catch
            {
                response?.Dispose();
                throw;
            }
        }

        if (whole is not null)
        {
            return Buffer(request, whole);
        }

        var message = new HttpResponseMessage(response!.StatusCode)
        {
            RequestMessage = request,
            Content = new StreamedResponseContent(response),
        };
        foreach (var (name, values) in response.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, values);
        }

        if (response.ContentHeaders is { } contentHeaders)
        {
            foreach (var (name, values) in contentHeaders.NonValidated)
            {
                // Content-Length is the body's own (a decoded body has none): the stream has exactly those bytes.
                message.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        return message;
    }

    /// <summary>A buffered response as HttpClient's: the body from memory, the content headers but its length.</summary>
    private static HttpResponseMessage Buffer(HttpRequestMessage request, NetResponse response)
    {
        var message = new HttpResponseMessage(response.StatusCode)
        {
            RequestMessage = request,
            Content = new ReadOnlyMemoryContent(response.Body),
        };
        foreach (var (name, values) in response.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, values);
        }

        if (response.ContentHeaders is { } contentHeaders)
        {
            foreach (var (name, values) in contentHeaders)
            {
                if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    message.Content.Headers.TryAddWithoutValidation(name, values);
                }
            }
        }

        return message;
    }
}

/// <summary>Registers <see cref="NetActorsHandler"/> on an <see cref="IHttpClientBuilder"/>.</summary>
public static class NetActorsHandlerExtensions
{
    /// <summary>
    /// Sends this HttpClient's requests through the NetActors runtime as client <paramref name="client"/>
    /// (its base address, cap, auth realm, retries and metrics apply). The runtime owns the sockets, so the
    /// factory's own handler rotation does not apply.
    /// </summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <param name="client">A configured NetActors client name.</param>
    /// <param name="streamResponses">
    /// True (the default): responses are streamed, so <see cref="HttpCompletionOption.ResponseHeadersRead"/> works;
    /// false: buffered, with deduplication and the client's HTTP cache (see <see cref="NetActorsHandler.Buffered"/>).
    /// </param>
    public static IHttpClientBuilder AddNetActorsHandler(this IHttpClientBuilder builder, string client, bool streamResponses = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(client);
        builder.ConfigurePrimaryHttpMessageHandler(sp => new NetActorsHandler(sp.GetRequiredService<INetClient>(), client, streamResponses));
        builder.RemoveAllLoggers();   // the runtime logs each request itself, with secrets masked
        return builder;
    }
}
