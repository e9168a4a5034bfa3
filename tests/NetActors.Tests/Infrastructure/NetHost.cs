using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors.Hosting;
using NetActors.Gateway;

namespace NetActors.Tests.Infrastructure;

/// <summary>A generic host running NetActors the way an application does, for one test.</summary>
public sealed class NetHost : IAsyncDisposable
{
    private readonly IHost _host;

    private NetHost(IHost host)
    {
        _host = host;
    }

    public IServiceProvider Services => _host.Services;

    /// <summary>The generic host, for tests that stop it themselves.</summary>
    public IHost Host => _host;

    public INetClient Client => Services.GetRequiredService<INetClient>();

    public ActorSystem System => Services.GetRequiredService<ActorSystem>();

    public IActorRef Gateway => Services.GetRequiredService<ActorRegistry>().Get<NetGateway>();

    public static IHost Build(Action<NetActorsBuilder> configure, LogCapture? logs = null,
        Action<IServiceCollection>? services = null, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.Services.AddNetActors(configure, "test", (a, sp) =>
        {
            a.AddHocon("akka.loglevel = INFO\nakka.stdout-loglevel = OFF", HoconAddMode.Prepend);
            akka?.Invoke(a, sp);
        });
        services?.Invoke(builder.Services);
        return builder.Build();
    }

    public static async Task<NetHost> StartAsync(Action<NetActorsBuilder> configure, LogCapture? logs = null,
        Action<IServiceCollection>? services = null, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        var host = Build(configure, logs, services, akka);
        await host.StartAsync();
        var net = new NetHost(host);
        await net.Services.GetRequiredService<ActorRegistry>().GetAsync<NetGateway>();
        return net;
    }

    /// <summary>A host with one client "api" on <paramref name="upstream"/>.</summary>
    public static Task<NetHost> StartAsync(TestUpstream upstream, Action<ClientBuilder>? client = null, LogCapture? logs = null) =>
        StartAsync(net => net.AddClient("api", c =>
        {
            c.WithBaseAddress(upstream.BaseAddress);
            client?.Invoke(c);
        }), logs);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>Collects every log line (all categories, all levels) with its exception text.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public string All => string.Join("\n", _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            lines.Enqueue($"scope {category}: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            var record = new List<string> { $"{logLevel} {category}: {formatter(state, exception)} {exception}" };
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (k, v) in values)
                {
                    record.Add($"  {k}={v}");
                }
            }

            // A record's lines stay together: its properties follow its message, whatever other threads log.
            lock (lines)
            {
                foreach (var line in record)
                {
                    lines.Enqueue(line);
                }
            }
        }
    }
}
