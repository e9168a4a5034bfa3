using System.Net;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Http.Logging;
using Microsoft.Extensions.Options;

namespace NetActors.Hosting;

/// <summary>
/// Configures the factory's named clients <c>NetActors:&lt;origin&gt;</c>: a <see cref="SocketsHttpHandler"/>
/// per origin whose <c>MaxConnectionsPerServer</c> is the origin's cap, whose pooled connections are replaced
/// every <c>pooled-connection-lifetime</c> (so DNS changes are seen), which does not follow redirects (the
/// runtime does, so tokens never cross origins), keeps no cookies and leaves decompression to the runtime. The
/// handler is kept for the life of the process (connection lifetime does the rotation), and the factory's own logs
/// never show a header value (they are off for these clients anyway: see <see cref="NetActorsHandlerFilter"/>).
/// </summary>
internal sealed class NetActorsHttpClientOptions(OriginConnections connections) : IConfigureNamedOptions<HttpClientFactoryOptions>
{
    public const string NamePrefix = "NetActors:";

    /// <summary>The shortest handler lifetime the HTTP client factory accepts.</summary>
    private static readonly TimeSpan MinHandlerLifetime = TimeSpan.FromSeconds(1);

    public void Configure(string? name, HttpClientFactoryOptions options)
    {
        if (name is null || !name.StartsWith(NamePrefix, StringComparison.Ordinal))
        {
            return;
        }

        var origin = name[NamePrefix.Length..];
        var connection = connections.For(origin)
            ?? throw new InvalidOperationException($"No connection settings are registered for origin {origin}.");

        // A lifetime no longer than idle-origin-timeout: by the time an idle origin is removed, the factory's entry for
        // its handler has expired, and the factory disposes the handler once the removed host actor let go of it. A
        // live host actor keeps its handler for as long as it lives; pooled-connection-lifetime rotates connections.
        var lifetime = connection.PooledConnectionLifetime > TimeSpan.Zero ? connection.PooledConnectionLifetime : TimeSpan.FromMinutes(2);
        lifetime = connection.IdleOriginTimeout < lifetime ? connection.IdleOriginTimeout : lifetime;
        options.HandlerLifetime = lifetime < MinHandlerLifetime ? MinHandlerLifetime : lifetime; // the factory's minimum
        options.ShouldRedactHeaderValue = static _ => true;
        options.HttpClientActions.Add(static client => client.Timeout = Timeout.InfiniteTimeSpan);
        options.HttpMessageHandlerBuilderActions.Add(builder => builder.PrimaryHandler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connection.MaxConnections,
            ConnectTimeout = connection.ConnectTimeout,
            PooledConnectionLifetime = connection.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = connection.PooledConnectionIdleTimeout,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None, // the runtime decodes (Hosts/ContentDecoding), cheaper
            // A response disposed before its body ended (a streamed body the caller let go, one over the size limit)
            // closes its connection at once instead of draining it for up to 2 s: the slot it frees must mean the
            // server no longer serves it, so the cap counts what the server sees.
            MaxResponseDrainSize = 0,
            // Telemetry: no DiagnosticsHandler, so the only traceparent on the wire is NetActors' own (its request
            // span continues the caller's trace), and no second, parentless client span per attempt.
            ActivityHeadersPropagator = null,
        });
    }

    public void Configure(HttpClientFactoryOptions options)
    {
    }
}

/// <summary>
/// Takes the factory's default logging handlers out of NetActors' own clients. The runtime logs every request
/// itself (<c>NetActors.Requests</c>, with its redaction rules); the factory's two handlers would add two async
/// layers, a logging scope and a formatted URL to every request (about 600 bytes) for lines nobody reads twice.
/// Handlers an application adds to all clients stay. Registered first, so it wraps the factory's logging filter
/// and runs after it.
/// </summary>
internal sealed class NetActorsHandlerFilter : IHttpMessageHandlerBuilderFilter
{
    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next) => builder =>
    {
        next(builder);
        if (builder.Name?.StartsWith(NetActorsHttpClientOptions.NamePrefix, StringComparison.Ordinal) != true)
        {
            return;
        }

        var handlers = builder.AdditionalHandlers;
        for (var i = handlers.Count - 1; i >= 0; i--)
        {
            if (handlers[i] is LoggingHttpMessageHandler or LoggingScopeHttpMessageHandler)
            {
                handlers.RemoveAt(i);
            }
        }
    };
}
