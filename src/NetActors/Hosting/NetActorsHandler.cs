using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;

namespace NetActors.Hosting;

/// <summary>
/// The primary handler of an <see cref="HttpClient"/> that sends through the NetActors runtime as client
/// <see cref="Client"/>: existing <c>HttpClient</c> code and typed clients (Refit included) get its connection
/// caps, auth, retries, rate limits, deduplication and metrics. Error statuses come back as responses, as
/// <c>HttpClient</c> code expects; failures without a response throw <see cref="HttpRequestException"/> with the
/// typed <see cref="NetException"/> inside, and timeouts throw <see cref="TaskCanceledException"/> whose inner
/// exception is a <see cref="TimeoutException"/> carrying the <see cref="NetTimeoutException"/> (as
/// <c>HttpClient</c>'s own timeout does).
/// </summary>
/// <remarks>
/// The request's content is sent as the caller built it: its bytes and every content header, parameters included
/// (a charset, a multipart boundary). A retry sends the same bytes: byte, string, form, JSON and multipart content
/// and streams that can seek are written again for each attempt; a stream that cannot seek (or a custom content
/// type) is read into memory once before the first attempt. Header values with CR, LF, NUL or non-ASCII
/// characters are refused with an <see cref="HttpRequestException"/> around an
/// <see cref="InvalidRequestException"/>; nothing is sent.
/// </remarks>
public sealed class NetActorsHandler(INetClient net, string client) : HttpMessageHandler
{
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
            headers.Add(new(name, string.Join(name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values)));
        }

        NetContent? content = null;
        if (request.Content is { } body)
        {
            // The caller's content goes as it is, content headers included; the runtime checks the other headers.
            var (callerContent, problem) = await CallerContent.FromAsync(body, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                var info = new NetRequestInfo(Client, request.Method.Method, Telemetry.RedactionSettings.Default.Url(url), 0);
                var invalid = new InvalidRequestException(info, problem);
                throw new HttpRequestException(invalid.Message, invalid);
            }

            content = callerContent;
        }

        var netRequest = new NetRequest(Client, request.Method, url)
        {
            Headers = headers,
            Content = content,
            AllowErrorStatus = true,
        };

        NetResponse response;
        try
        {
            response = await net.SendAsync(netRequest, cancellationToken).ConfigureAwait(false);
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
    public static IHttpClientBuilder AddNetActorsHandler(this IHttpClientBuilder builder, string client)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(client);
        builder.ConfigurePrimaryHttpMessageHandler(sp => new NetActorsHandler(sp.GetRequiredService<INetClient>(), client));
        builder.RemoveAllLoggers();   // the runtime logs each request itself, with secrets masked
        return builder;
    }
}
