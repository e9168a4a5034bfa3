using Akka.Actor;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Hosts;

namespace NetActors.Gateway;

/// <summary>
/// Resolves an exchange's client, hooks and origin, and knows the host actors of the declared origins (those a
/// client names as its base address, created when the gateway starts). The gateway uses it for every request;
/// the facade uses it to hand a request for a declared origin to its host actor itself, one actor hop less per
/// request. Immutable once built; safe from any thread.
/// </summary>
internal sealed class RequestRouter(NetActorsSettings settings, NetActorsSetup? setup,
    IReadOnlyDictionary<string, HostEntry> declaredHosts)
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

        ex.Redaction = client.Redaction;  // the client's redaction (the runtime's lists plus its own)
        if (Problem(ex.Request) is { } invalid)
        {
            return invalid;
        }

        if (RequestTargets.TryAbsolute(ex.Request, out var absolute, out var problem))
        {
            ex.Target = absolute;
            ex.OriginKey = RequestTargets.OriginKeyOf(absolute!, client);
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
            return $"the URL '{client.Redaction.Url(ex.Request.Url)}' is relative but client '{client.Name}' has no base-address.";
        }

        ex.Client = client;
        ex.Hooks = setup?.Clients.GetValueOrDefault(client.Name) ?? Resilience.ClientHooks.None;
        return null;
    }

    /// <summary>This router without the host of <paramref name="origin"/> (it stopped): its requests go through the gateway.</summary>
    public RequestRouter Without(string origin) =>
        new(settings, setup, declaredHosts.Where(h => h.Key != origin).ToDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal));

    /// <summary>The host of <paramref name="origin"/> when a client declares it, else null.</summary>
    public HostEntry? DeclaredHost(string origin) => declaredHosts.GetValueOrDefault(origin);

    /// <summary>
    /// What is wrong with the shape of a request (nulls a record's <c>init</c> lets through, a timeout no timer can
    /// hold), or null. Checked before anything else, so no such request reaches an actor.
    /// </summary>
    internal static string? Problem(NetRequest request)
    {
        if (request.Method is null || request.Url is null)
        {
            return "the request has no method or no URL.";
        }

        if (request.Headers is not { } headers)
        {
            return "the request's header list is null.";
        }

        for (var i = 0; i < headers.Count; i++)
        {
            if (headers[i].Key is null || headers[i].Value is null)
            {
                return $"header {i + 1} of the request has a null name or value.";
            }
        }

        if (request.Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout > NetRequest.MaxTimeout))
        {
            return $"the request's timeout ({timeout}) must be more than zero and at most {NetRequest.MaxTimeout.TotalDays:0.#} days.";
        }

        if (request.MaxStreamedBytes is <= 0)
        {
            return $"the request's streamed body limit ({request.MaxStreamedBytes}) must be more than zero.";
        }

        return null;
    }
}

/// <summary>An origin's host actor and the admission ledger that counts what it holds.</summary>
internal sealed record HostEntry(IActorRef Actor, AdmissionLedger Ledger);
