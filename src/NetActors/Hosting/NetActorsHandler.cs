using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;

namespace NetActors.Hosting;

/// <summary>
/// The primary handler of an <see cref="HttpClient"/> that sends through the NetActors runtime as client
/// <see cref="Client"/>: existing <c>HttpClient</c> code and typed clients (Refit included) get its connection
/// caps, auth, retries, rate limits, deduplication and metrics. Error statuses come back as responses, as
/// <c>HttpClient</c> code expects; failures without a response throw <see cref="HttpRequestException"/> (or
/// <see cref="TaskCanceledException"/> for timeouts) with the typed <see cref="NetException"/> inside.
/// </summary>
public sealed class NetActorsHandler(INetClient net, string client) : HttpMessageHandler
{
    /// <summary>The NetActors client requests are sent as.</summary>
    public string Client { get; } = client;

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in request.Headers)
        {
            headers.Add(new(name, string.Join(name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values)));
        }

        NetContent? content = null;
        if (request.Content is { } body)
        {
            var bytes = await body.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            content = NetContent.Bytes(bytes, body.Headers.ContentType?.ToString() ?? "application/octet-stream");
            foreach (var (name, values) in body.Headers)
            {
                if (!name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) &&
                    !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    headers.Add(new(name, string.Join(", ", values)));
                }
            }
        }

        var netRequest = new NetRequest(Client, request.Method, uri.IsAbsoluteUri ? uri.AbsoluteUri : uri.OriginalString)
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
            throw new TaskCanceledException(e.Message, e);
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
