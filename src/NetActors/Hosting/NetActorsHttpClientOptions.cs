using System.Net;
using Microsoft.Extensions.DependencyInjection;
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
/// never show a header value (they are off for these clients anyway: see <see cref="SuppressFactoryLogging"/>).
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
        SuppressFactoryLogging(options);
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

    /// <summary>
    /// What the factory's public <c>RemoveAllLoggers()</c> does to a named client's options, captured once (the
    /// option it sets is not public, and the names here are made per origin at run time, too late to register a
    /// builder). With it the factory creates no logging handlers for these clients, and so no two loggers per
    /// origin, which its logger factory would keep for the life of the process after the origin is evicted
    /// (about 1.5 KB per origin visited once). The runtime logs every request itself (<c>NetActors.Requests</c>,
    /// with its redaction rules).
    /// </summary>
    private static readonly Action<HttpClientFactoryOptions> SuppressFactoryLogging = CaptureRemoveAllLoggers();

    private static Action<HttpClientFactoryOptions> CaptureRemoveAllLoggers()
    {
        var services = new ServiceCollection();
        new CapturingBuilder(services).RemoveAllLoggers();
        var actions = services
            .Select(d => d.ImplementationInstance)
            .OfType<ConfigureNamedOptions<HttpClientFactoryOptions>>()
            .Select(c => c.Action)
            .OfType<Action<HttpClientFactoryOptions>>()
            .ToArray();
        return options =>
        {
            foreach (var action in actions)
            {
                action(options);
            }
        };
    }

    /// <summary>A builder whose registrations are only read, never used.</summary>
    private sealed class CapturingBuilder(IServiceCollection services) : IHttpClientBuilder
    {
        public string Name => NamePrefix;

        public IServiceCollection Services { get; } = services;
    }
}
