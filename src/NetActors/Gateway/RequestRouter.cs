using Akka.Actor;
using NetActors.Configuration;
using NetActors.Hosting;
using NetActors.Hosts;

namespace NetActors.Gateway;

/// <summary>
/// Resolves an exchange's client, hooks and origin, and knows the host actors of the declared origins (those a
/// client names as its base address, created when the gateway starts). The gateway uses it for every request;
/// the facade uses it to hand a request for a declared origin to its host actor itself, one actor hop less per
/// request. Immutable once built; safe from any thread.
/// </summary>
internal sealed class RequestRouter(NetActorsSettings settings, NetActorsSetup? setup,
    IReadOnlyDictionary<string, IActorRef> declaredHosts)
{
    /// <summary>
    /// Sets the exchange's client, redaction, hooks, origin key and (when absolute) target. Null when the
    /// exchange can go to a host actor; otherwise what is wrong with it. On a problem nothing but the client and
    /// redaction (for the error message) may have been set.
    /// </summary>
    public string? Resolve(Exchange ex)
    {
        if (ex.Request is null || !settings.Clients.TryGetValue(ex.Request.Client ?? string.Empty, out var client))
        {
            return $"no client named '{ex.Request?.Client}' is configured (configured: {string.Join(", ", settings.Clients.Keys.Order())}).";
        }

        ex.Redaction = client.Redaction;  // ecosystem: the client's redaction (runtime's lists plus its own)
        if (ex.Request.Method is null || ex.Request.Url is null)
        {
            return "the request has no method or no URL.";
        }

        if (RequestTargets.TryAbsolute(ex.Request.Url, out var absolute, out var problem))
        {
            ex.Target = absolute;
            ex.OriginKey = Origins.KeyOf(absolute!);
        }
        else if (problem is not null)
        {
            return problem;
        }
        else if (client.BaseOrigin is { } baseOrigin)
        {
            // Relative: the host actor resolves it against the base address, off the gateway.
            ex.OriginKey = baseOrigin;
        }
        else
        {
            return $"the URL '{client.Redaction.Url(ex.Request.Url)}' is relative but client '{client.Name}' has no base-address.";  // ecosystem:
        }

        ex.Client = client;
        ex.Hooks = setup?.Clients.GetValueOrDefault(client.Name) ?? Resilience.ClientHooks.None;
        return null;
    }

    /// <summary>The host actor of <paramref name="origin"/> when a client declares it, else null.</summary>
    public IActorRef? DeclaredHost(string origin) => declaredHosts.GetValueOrDefault(origin);
}
