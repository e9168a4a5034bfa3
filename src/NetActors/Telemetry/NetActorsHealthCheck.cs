using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's health: <see cref="HealthStatus.Unhealthy"/> while an auth realm's session is expired (its
/// authenticated requests fail until the next sign-in), <see cref="HealthStatus.Degraded"/> while a realm's token
/// endpoint is failing (the session is kept) or an origin's circuit is open or half-open, otherwise <see cref="HealthStatus.Healthy"/>. Register it with
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

        var degraded = sessions.Degraded();
        if (degraded.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Degraded(
                "Token endpoint failing for auth realm(s): " + string.Join(", ", degraded.Keys.Order()),
                data: degraded.ToDictionary(e => "realm:" + e.Key, e => (object)e.Value)));
        }

        // The adaptive limits and rates are data, not a status: a limit that went down is the runtime doing its job.
        var adaptive = metrics.AdaptiveData();
        var open = metrics.OriginsWithCircuitNotClosed();
        return Task.FromResult(open.Count > 0
            ? HealthCheckResult.Degraded("Circuit not closed for: " + string.Join(", ", open.Order()), data: adaptive)
            : HealthCheckResult.Healthy(data: adaptive));
    }
}

/// <summary>Which auth realms have an expired session, and why. Written by the realms' TokenActors.</summary>
public sealed class SessionStates
{
    private readonly ConcurrentDictionary<string, string> _expired = new(StringComparer.Ordinal);

    /// <summary>The realms whose session is expired, with the reason (never a secret).</summary>
    public IReadOnlyDictionary<string, string> Expired() => new Dictionary<string, string>(_expired);

    private readonly ConcurrentDictionary<string, string> _degraded = new(StringComparer.Ordinal);

    /// <summary>
    /// The realms whose token endpoint is failing (unreachable, 5xx, timing out, or answering what cannot be a
    /// token) while the session is kept, with the last cause (never a secret).
    /// </summary>
    public IReadOnlyDictionary<string, string> Degraded() => new Dictionary<string, string>(_degraded);

    internal void Ended(string realm, string reason)
    {
        _expired[realm] = reason;
        _degraded.TryRemove(realm, out _);
    }

    internal void Started(string realm)
    {
        _expired.TryRemove(realm, out _);
        _degraded.TryRemove(realm, out _);
    }

    internal void Degraded(string realm, string reason) => _degraded[realm] = reason;
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
