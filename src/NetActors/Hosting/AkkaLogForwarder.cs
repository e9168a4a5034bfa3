using System.Collections.Concurrent;
using Akka.Actor;
using Akka.DependencyInjection;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace NetActors.Hosting;

/// <summary>
/// Akka's logger under <c>WithNetActors</c>: hands every log event to Microsoft.Extensions.Logging under the
/// category of the class that logged it (<c>NetActors.Auth.TokenActor</c>, <c>NetActors.Hosts.HostActor</c>,
/// <c>Akka.Actor.CoordinatedShutdown</c>), with the event's message template and arguments, so structured sinks
/// get named properties. (Akka.Hosting's own logger files every event under one category.)
/// </summary>
internal sealed class AkkaLogForwarder : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);
    private ILoggerFactory? _factory;

    public AkkaLogForwarder()
    {
        Receive<InitializeLogger>(_ =>
        {
            _factory = TryResolveFactory(Context.System);
            Sender.Tell(new LoggerInitialized());
        });
        Receive<LogEvent>(Forward);
    }

    private static ILoggerFactory? TryResolveFactory(ActorSystem system)
    {
        try
        {
            return DependencyResolver.For(system).Resolver.GetService<ILoggerFactory>();
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException)
        {
            return null;   // no service provider (an actor system outside a host): nothing to log to
        }
    }

    private void Forward(LogEvent e)
    {
        if (_factory is null)
        {
            return;
        }

        var category = e.LogClass?.FullName ?? "Akka";
        var logger = _loggers.GetOrAdd(category, static (name, factory) => factory.CreateLogger(name), _factory);
        var level = e.LogLevel() switch
        {
            AkkaLogLevel.DebugLevel => LogLevel.Debug,
            AkkaLogLevel.InfoLevel => LogLevel.Information,
            AkkaLogLevel.WarningLevel => LogLevel.Warning,
            _ => LogLevel.Error,
        };
        if (!logger.IsEnabled(level) || logger is NullLogger)
        {
            return;
        }

        try
        {
            if (e.Message is LogMessage message)
            {
                logger.Log(level, e.Cause, message.Format, [.. message.Parameters()]);
            }
            else
            {
                logger.Log(level, e.Cause, "{Message}", e.Message?.ToString());
            }
        }
        catch (FormatException)
        {
            logger.Log(level, e.Cause, "{Message}", e.Message?.ToString());   // a template MEL cannot read: the text
        }
    }
}
