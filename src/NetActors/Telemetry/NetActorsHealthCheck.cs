using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's health: <see cref="HealthStatus.Unhealthy"/> while an auth realm's session is expired (its
/// authenticated requests fail until the next sign-in), <see cref="HealthStatus.Degraded"/> while an origin's
/// circuit is open or half-open, otherwise <see cref="HealthStatus.Healthy"/>. Register it with
/// <c>services.AddHealthChecks().AddNetActors()</c>.
/// </summary>
public sealed class NetActorsHealthCheck(NetMetrics metrics, SessionStates sessions) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var expired = sessions.Expired();
        if (expired.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                "Session expired for auth realm(s): " + string.Join(", ", expired.Keys.Order()),
                data: expired.ToDictionary(e => "realm:" + e.Key, e => (object)e.Value)));
        }

        var open = metrics.OriginsWithCircuitNotClosed();
        return Task.FromResult(open.Count > 0
            ? HealthCheckResult.Degraded("Circuit not closed for: " + string.Join(", ", open.Order()))
            : HealthCheckResult.Healthy());
    }
}

/// <summary>Which auth realms have an expired session, and why. Written by the realms' TokenActors.</summary>
public sealed class SessionStates
{
    private readonly ConcurrentDictionary<string, string> _expired = new(StringComparer.Ordinal);

    /// <summary>The realms whose session is expired, with the reason (never a secret).</summary>
    public IReadOnlyDictionary<string, string> Expired() => new Dictionary<string, string>(_expired);

    internal void Ended(string realm, string reason) => _expired[realm] = reason;

    internal void Started(string realm) => _expired.TryRemove(realm, out _);
}

/// <summary>Registers <see cref="NetActorsHealthCheck"/>.</summary>
public static class NetActorsHealthCheckExtensions
{
    /// <summary>Adds the NetActors health check (unhealthy while a session is expired, degraded while a circuit is open).</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags for filtering (for example "ready").</param>
    public static IHealthChecksBuilder AddNetActors(this IHealthChecksBuilder builder, string name = "netactors",
        IEnumerable<string>? tags = null) =>
        builder.AddCheck<NetActorsHealthCheck>(name, tags: tags);
}
