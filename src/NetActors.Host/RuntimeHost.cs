using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors.Configuration;
using NetActors.Host.Options;
using NetActors.Hosting;
using NetActors.Telemetry;

namespace NetActors.Host;

/// <summary>
/// The NetActors runtime in a generic host, as a service hosts it. Its settings, lowest first: the library's
/// defaults, the caller's fallback HOCON (the demo's clients), the HOCON file,
/// the <c>NetActors</c> configuration section (appsettings, environment, command line), and what the caller
/// sets in C#.
/// </summary>
internal sealed class RuntimeHost : IAsyncDisposable
{
    private readonly IHost _host;

    private RuntimeHost(IHost host)
    {
        _host = host;
        Settings = NetActorsSettings.Create(host.Services.GetRequiredService<ActorSystem>());
    }

    /// <summary>The runtime's facade.</summary>
    public INetClient Net => _host.Services.GetRequiredService<INetClient>();

    /// <summary>The runtime's settings as validated at startup.</summary>
    public NetActorsSettings Settings { get; }

    /// <summary>The runtime's metrics (for its meter).</summary>
    public NetMetrics Metrics => _host.Services.GetRequiredService<NetMetrics>();

    /// <summary>The backend's feature flags (fetched when <c>netactors.feature-flags.enabled</c>).</summary>
    public NetActors.Features.IFeatureFlags Flags => _host.Services.GetRequiredService<NetActors.Features.IFeatureFlags>();

    /// <summary>Builds and starts the host; a bad runtime setting throws <see cref="NetActorsConfigurationException"/>.</summary>
    /// <param name="options">The host's options (HOCON file, verbosity).</param>
    /// <param name="configuration">The configuration whose <c>NetActors</c> section overrides the HOCON file.</param>
    /// <param name="configure">Clients and realms set in C#.</param>
    /// <param name="fallbackHocon">HOCON below the file (defaults of the caller's own), or null.</param>
    /// <param name="logging">Log providers (none when null).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<RuntimeHost> StartAsync(HostRunOptions options, IConfiguration configuration, Action<NetActorsBuilder> configure,
        string? fallbackHocon, Action<ILoggingBuilder>? logging, CancellationToken cancellationToken)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace);   // levels are the provider's (Program.cs sets Serilog's)
        logging?.Invoke(builder.Logging);

        // The NetActors section goes through the library's reader: unknown keys and unit-less durations stop
        // startup naming the key, and .NET precedence decides between sources.
        var section = configuration.GetSection("NetActors");
        builder.Services.AddNetActors(net =>
        {
            net.WithConfiguration(section);
            configure(net);
        }, "netactors-host", (akka, _) =>
        {
            if (fallbackHocon is not null)
            {
                akka.AddHocon(fallbackHocon, HoconAddMode.Append);
            }

            if (options.HoconPath is { } path && File.Exists(path))
            {
                akka.AddHoconFile(path, HoconAddMode.Prepend);
            }
        });

        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
            return new RuntimeHost(host);
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<NetActorsConfigurationException>().FirstOrDefault() is { } bad)
        {
            host.Dispose();
            throw bad;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>The total timeout of a client's requests.</summary>
    public TimeSpan TotalTimeout(string client) =>
        Settings.Clients.TryGetValue(client, out var c) ? c.TotalTimeout : TimeSpan.FromSeconds(30);

    /// <summary>The connection cap of an origin: that of the client whose base address it is.</summary>
    public int? CapOf(string origin) =>
        Settings.Clients.Values.FirstOrDefault(c => c.BaseOrigin == origin)?.MaxConnections;

    /// <summary>Stops the host: requests on the wire drain, then the actor system ends.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
