using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Gateway;

namespace NetActors.Hosting;

/// <summary>Registers NetActors in a generic host, Akka.Hosting style.</summary>
public static class NetActorsHostingExtensions
{
    /// <summary>
    /// Adds the NetActors runtime to an actor system configured with Akka.Hosting: the library's reference
    /// configuration as fallback, the builder's settings above it, Akka's logging through
    /// Microsoft.Extensions.Logging only (Akka's own stdout logger is off), and the gateway actor (registered as
    /// <see cref="NetGateway"/>). Call <see cref="AddNetActors(IServiceCollection)"/> on the services too; a host
    /// that has one half without the other fails at startup saying so.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="configure">Configures clients and anything HOCON cannot hold.</param>
    public static AkkaConfigurationBuilder WithNetActors(this AkkaConfigurationBuilder builder,
        Action<NetActorsBuilder>? configure = null)
    {
        var net = new NetActorsBuilder();
        configure?.Invoke(net);
        return builder.WithNetActors(net);
    }

    /// <summary>
    /// <see cref="WithNetActors(AkkaConfigurationBuilder, Action{NetActorsBuilder})"/> with the settings of a .NET
    /// configuration section (see <see cref="NetActorsBuilder.WithConfiguration"/>) under what
    /// <paramref name="configure"/> sets.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="section">The configuration section with the NetActors settings, e.g. <c>configuration.GetSection("NetActors")</c>.</param>
    /// <param name="configure">Configures clients and anything configuration cannot hold (delegates, token stores).</param>
    public static AkkaConfigurationBuilder WithNetActors(this AkkaConfigurationBuilder builder, IConfiguration section,
        Action<NetActorsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        var net = new NetActorsBuilder().WithConfiguration(section);
        configure?.Invoke(net);
        return builder.WithNetActors(net);
    }

    private static AkkaConfigurationBuilder WithNetActors(this AkkaConfigurationBuilder builder, NetActorsBuilder net)
    {
        builder.AddHocon(NetActorsSettings.Reference, HoconAddMode.Append);
        // Akka's logs go to Microsoft.Extensions.Logging only: no second copy on stdout (an application may still
        // turn it on with its own akka.stdout-loglevel).
        builder.AddHocon("akka.stdout-loglevel = OFF", HoconAddMode.Append);
        var own = net.ToHocon();
        if (!string.IsNullOrWhiteSpace(own))
        {
            builder.AddHocon(ConfigurationFactory.ParseString(own), HoconAddMode.Prepend);
        }

        var setup = new NetActorsSetup(net.RealmRegistrations, net.ClientHooks);
        builder.AddSetup(setup);
        builder.AddSetup(setup.RefresherRealms);
        builder.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLogger<AkkaLogForwarder>();   // Microsoft.Extensions.Logging, by the logging class's category
        });
        builder.WithActors((system, registry, resolver) =>
        {
            var runtime = resolver.GetService<NetActorsRuntime>()
                ?? throw new InvalidOperationException(
                    "NetActors services are missing: call services.AddNetActors() as well as WithNetActors().");
            runtime.Start(system, registry);
        });
        return builder;
    }

    /// <summary>
    /// Registers the services NetActors needs (<see cref="INetClient"/>, the HTTP client factory, startup
    /// validation). Use with <see cref="WithNetActors(AkkaConfigurationBuilder, Action{NetActorsBuilder})"/> when the application configures Akka itself.
    /// </summary>
    /// <param name="services">The service collection.</param>
    public static IServiceCollection AddNetActors(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(NetActorsRuntime)))
        {
            return services;
        }

        // Validation starts before Akka's hosted service when registered first, so that a bad setting
        // fails the host's StartAsync with a message that names the key.
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, NetActorsStartupValidator>());
        services.AddHttpClient();
        services.AddLogging();
        services.TryAddSingleton<OriginConnections>();
        services.TryAddSingleton<Telemetry.SessionStates>();
        services.TryAddSingleton(sp => new Telemetry.NetMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<Features.FeatureFlags>();
        services.TryAddSingleton<Features.IFeatureFlags>(sp => sp.GetRequiredService<Features.FeatureFlags>());
        services.TryAddSingleton<NetActorsRuntime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<HttpClientFactoryOptions>, NetActorsHttpClientOptions>());
        services.TryAddSingleton<INetClient, NetClient>();
        return services;
    }

    /// <summary>
    /// One call for applications that do not otherwise use Akka: registers the services and an actor system
    /// named <paramref name="actorSystemName"/> running NetActors. An application that has its own
    /// <c>AddAkka</c> calls <c>akka.WithNetActors(...)</c> inside it and <see cref="AddNetActors(IServiceCollection)"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures clients and anything HOCON cannot hold.</param>
    /// <param name="actorSystemName">The actor system's name.</param>
    /// <param name="configureAkka">Further Akka configuration (for example <c>AddHoconFile</c>).</param>
    /// <exception cref="InvalidOperationException">An actor system is already registered (use <c>WithNetActors</c> on it).</exception>
    public static IServiceCollection AddNetActors(this IServiceCollection services, Action<NetActorsBuilder> configure,
        string actorSystemName = "netactors", Action<AkkaConfigurationBuilder, IServiceProvider>? configureAkka = null)
    {
        if (services.Any(d => d.ServiceType == typeof(ActorSystem)))
        {
            throw new InvalidOperationException(
                "An actor system is already registered (AddAkka): add NetActors to it with akka.WithNetActors(...) " +
                "inside that AddAkka, and call services.AddNetActors() without arguments.");
        }

        services.AddNetActors();
        services.AddAkka(actorSystemName, (akka, sp) =>
        {
            configureAkka?.Invoke(akka, sp);
            akka.WithNetActors(configure);
        });
        return services;
    }

    /// <summary>
    /// One call, settings from .NET configuration: <c>services.AddNetActors(configuration.GetSection("NetActors"))</c>
    /// registers the services and an actor system running NetActors with the section's clients, realms and every
    /// other key of the HOCON <c>netactors</c> section (see <see cref="NetActorsBuilder.WithConfiguration"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The configuration section with the NetActors settings.</param>
    /// <param name="configure">Configures anything configuration cannot hold (delegates, token stores, interceptors).</param>
    /// <param name="actorSystemName">The actor system's name.</param>
    /// <param name="configureAkka">Further Akka configuration.</param>
    /// <exception cref="InvalidOperationException">An actor system is already registered (use <c>WithNetActors</c> on it).</exception>
    public static IServiceCollection AddNetActors(this IServiceCollection services, IConfiguration section,
        Action<NetActorsBuilder>? configure = null, string actorSystemName = "netactors",
        Action<AkkaConfigurationBuilder, IServiceProvider>? configureAkka = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return services.AddNetActors(net =>
        {
            net.WithConfiguration(section);
            configure?.Invoke(net);
        }, actorSystemName, configureAkka);
    }
}

/// <summary>
/// Reads and validates the NetActors settings when the host starts, so an impossible value stops startup
/// with a <see cref="NetActorsConfigurationException"/> that names the key.
/// </summary>
internal sealed class NetActorsStartupValidator(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var system = services.GetService<ActorSystem>()
            ?? throw new InvalidOperationException(
                "NetActors has no actor system: services.AddNetActors() registers only the services. Call " +
                "services.AddNetActors(configuration.GetSection(\"NetActors\")) or AddNetActors(net => ...) instead, " +
                "or add akka.WithNetActors(...) to your own AddAkka.");
        if (!system.Settings.Setup.Get<NetActorsSetup>().HasValue)
        {
            throw new InvalidOperationException(
                "NetActors services are registered but the actor system does not run NetActors: add " +
                "akka.WithNetActors(...) inside AddAkka, or use services.AddNetActors(configure) alone.");
        }

        NetActorsSettings.Create(system);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
