using Akka.Actor;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NetActors.Auth;

/// <summary>
/// The auth realms' log (category <c>NetActors.Auth</c>), with named properties (<c>{Realm}</c>,
/// <c>{TokenVersion}</c>). Never a token, a secret or a header value: reasons are the runtime's own words.
/// </summary>
internal sealed partial class AuthLog(ILogger logger)
{
    public const string Category = "NetActors.Auth";

    /// <summary>The log of <paramref name="system"/>'s host (through Akka.Hosting's service provider), or none.</summary>
    public static AuthLog For(ActorSystem system)
    {
        try
        {
            var factory = Akka.DependencyInjection.DependencyResolver.For(system).Resolver.GetService<ILoggerFactory>();
            return new AuthLog(factory?.CreateLogger(Category) ?? NullLogger.Instance);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new AuthLog(NullLogger.Instance); // an actor system without a service provider (TestKit)
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Auth realm {Realm}: resumed tokens (version {TokenVersion}) from the store")]
    public partial void Resumed(string realm, long tokenVersion);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Auth realm {Realm}: could not load tokens from the store ({ErrorType}); starting without a session")]
    public partial void LoadFailed(string realm, string errorType);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Auth realm {Realm}: the token actor failed ({ErrorType}); restarting with the stored tokens")]
    public partial void Restarting(string realm, string errorType);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Auth realm {Realm}: refreshed token (version {TokenVersion}) in {ElapsedMs:0} ms, proactive {Proactive}")]
    public partial void Refreshed(string realm, long tokenVersion, double elapsedMs, bool proactive);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Auth realm {Realm}: the refresh was rejected ({Reason}); ending the session")]
    public partial void Rejected(string realm, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Auth realm {Realm}: the token endpoint's answer could not be used ({Reason}); waiting requests fail, the session is kept, token version {TokenVersion}")]
    public partial void Unusable(string realm, string reason, long tokenVersion);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Auth realm {Realm}: refresh failed ({Reason}); retrying in {DelayMs:0} ms, the session is kept")]
    public partial void RefreshFailed(string realm, string reason, double delayMs);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "Auth realm {Realm}: signed in (token version {TokenVersion})")]
    public partial void SignedIn(string realm, long tokenVersion);

    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "Auth realm {Realm}: session ended ({Reason})")]
    public partial void SessionEnded(string realm, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Information, Message = "Auth realm {Realm}: handing over to another cluster member (token version {TokenVersion})")]
    public partial void HandingOver(string realm, long tokenVersion);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Auth realm {Realm}: handing over once the refresh on the wire has ended")]
    public partial void HandOverAfterRefresh(string realm);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Auth realm {Realm}: could not {Operation} the token store ({ErrorType})")]
    public partial void StoreFailed(string realm, string operation, string errorType);

    [LoggerMessage(EventId = 112, Level = LogLevel.Debug, Message = "Auth realm {Realm}: ignored a stale refresh result (generation {Generation})")]
    public partial void IgnoredResult(string realm, long generation);

    [LoggerMessage(EventId = 113, Level = LogLevel.Information, Message = "Auth realm {Realm}: a request is waiting and the last refresh attempt failed {SinceMs:0} ms ago; retrying now")]
    public partial void RetryOnDemand(string realm, double sinceMs);

    [LoggerMessage(EventId = 114, Level = LogLevel.Information, Message = "Auth realm {Realm}: the token endpoint answered again after {DowntimeMs:0} ms of failures")]
    public partial void Recovered(string realm, double downtimeMs);

    [LoggerMessage(EventId = 115, Level = LogLevel.Debug, Message = "Auth realm {Realm}: token version {TokenVersion} lives {LifetimeMs:0} ms, under the proactive floor; it is refreshed when a request needs it")]
    public partial void BelowFloor(string realm, long tokenVersion, double lifetimeMs);

    [LoggerMessage(EventId = 117, Level = LogLevel.Warning, Message = "Auth realm {Realm}: dropped a {Call} that arrived {LateMs:0} ms after its deadline (its caller was already told it failed)")]
    public partial void DroppedOverdueCall(string realm, string call, double lateMs);

    [LoggerMessage(EventId = 118, Level = LogLevel.Information, Message = "Auth realm {Realm}: this member is shutting down; its singleton no longer refreshes (the next one will)")]
    public partial void SteppingDownForShutdown(string realm);

    [LoggerMessage(EventId = 119, Level = LogLevel.Warning, Message = "Auth realm {Realm}: stepping down: {Reason}")]
    public partial void SteppingDown(string realm, string reason);

    [LoggerMessage(EventId = 116, Level = LogLevel.Information, Message = "Auth realm {Realm}: no request used token version {TokenVersion} for {IdleMs:0} ms; proactive refresh pauses until the next request")]
    public partial void IdlePause(string realm, long tokenVersion, double idleMs);
}
