using Akka.Actor;
using Akka.Configuration;
using NetActors.Telemetry;

namespace NetActors.Configuration;

/// <summary>
/// All NetActors settings of an actor system, read from the <c>netactors</c> HOCON section (the library's
/// reference config is the fallback) and validated. Actors read these objects, never raw config paths.
/// </summary>
public sealed record NetActorsSettings
{
    /// <summary>The named clients, by name (case-sensitive).</summary>
    public required IReadOnlyDictionary<string, ClientSettings> Clients { get; init; }

    /// <summary>The auth realms, by name.</summary>
    public required IReadOnlyDictionary<string, RealmSettings> Realms { get; init; }

    /// <summary>How long in-flight requests may finish when the host stops.</summary>
    public TimeSpan DrainTimeout { get; init; } = ReferenceDefaults.Duration("shutdown.drain-timeout");

    /// <summary>Where the backend's feature flags come from.</summary>
    public FeatureFlagsSettings FeatureFlags { get; init; } = new();

    /// <summary>The logging and redaction settings.</summary>
    public required RedactionSettings Redaction { get; init; }

    /// <summary>Cluster mode (<c>netactors.cluster</c>).</summary>
    public ClusterSettings Cluster { get; init; } = new();

    /// <summary>The library's reference configuration (the defaults), parsed once.</summary>
    public static Config Reference => ReferenceConfig.Value;

    private static readonly Lazy<Config> ReferenceConfig = new(() =>
    {
        using var stream = typeof(NetActorsSettings).Assembly.GetManifestResourceStream("NetActors.reference.conf")
            ?? throw new InvalidOperationException("NetActors.reference.conf is not embedded in the assembly.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>Reads the settings of <paramref name="system"/>.</summary>
    /// <param name="system">The actor system whose configuration holds the <c>netactors</c> section.</param>
    public static NetActorsSettings Create(ActorSystem system)
    {
        var settings = Create(system.Settings.Config,
            system.Settings.Setup.Get<RefresherRealms>() is { HasValue: true } realms ? realms.Value.Names : null);
        settings.Cluster.CheckProvider(system);
        return settings;
    }

    /// <summary>Reads and validates the settings from a root configuration.</summary>
    /// <param name="root">A root configuration; the reference defaults are added as fallback.</param>
    /// <exception cref="NetActorsConfigurationException">A setting is missing or impossible.</exception>
    /// <param name="delegateRealms">Realms that have a refresher delegate registered in C#.</param>
    public static NetActorsSettings Create(Config root, IReadOnlySet<string>? delegateRealms = null)
    {
        var netactors = root.WithFallback(Reference).GetConfig("netactors")
            ?? throw new NetActorsConfigurationException("netactors", "the section is missing.");
        SettingsSchema.Check(netactors);

        var clients = new Dictionary<string, ClientSettings>(StringComparer.Ordinal);
        var clientSection = netactors.GetConfig("clients");
        if (clientSection is not null && !clientSection.IsEmpty)
        {
            foreach (var name in clientSection.Root.GetObject().Items.Keys)
            {
                clients[name] = ClientSettings.Create(name, netactors);
            }
        }

        ValidateSharedOrigins(clients.Values);

        var realms = new Dictionary<string, RealmSettings>(StringComparer.Ordinal);
        var auth = netactors.GetConfig("auth") ?? Config.Empty;
        var realmSection = auth.GetConfig("realms");
        if (realmSection is not null && !realmSection.IsEmpty)
        {
            foreach (var name in realmSection.Root.GetObject().Items.Keys)
            {
                realms[name] = RealmSettings.Create(name, auth, clients, delegateRealms?.Contains(name) == true);
            }
        }

        foreach (var client in clients.Values)
        {
            if (client.AuthRealm is { } realm && !realms.ContainsKey(realm))
            {
                throw new NetActorsConfigurationException($"netactors.clients.{client.Name}.auth-realm",
                    $"no auth realm named '{realm}' is configured (netactors.auth.realms.{realm}).");
            }
        }

        var cluster = ClusterSettings.Create(netactors);
        if (cluster.Enabled && realms.Values.FirstOrDefault(r => r.DPoPKeyGenerated) is { } keyless)
        {
            // The realm's singleton would bind every token to the key of the member it runs on, and the other members'
            // proofs, signed with keys of their own, would not match it: each request a 401, each refresh in vain.
            throw new NetActorsConfigurationException($"netactors.auth.realms.{keyless.Name}.dpop.key",
                "must be given in cluster mode: tokens are bound to the DPoP key, so every member must sign with the same one " +
                "(a P-256 private key, PEM or base64 PKCS#8, or WithDPoP(key) in C#).");
        }

        var logging = new HoconReader(netactors.GetConfig("logging") ?? Config.Empty, "netactors.logging.");
        var redaction = RedactionSettings.Create(logging.StringList("redacted-query-parameters"), logging.StringList("redacted-headers"));
        foreach (var name in clients.Keys.ToList())
        {
            clients[name] = clients[name] with { Redaction = redaction.With(clients[name].Redaction) };
        }

        return new NetActorsSettings
        {
            Clients = clients,
            Realms = realms,
            DrainTimeout = new HoconReader(netactors, "netactors.").Duration("shutdown.drain-timeout"),
            FeatureFlags = FeatureFlagsSettings.Create(netactors, clients),
            Redaction = redaction,
            Cluster = cluster,
        };
    }

    /// <summary>
    /// One origin has one connection budget. Two clients on the same origin must agree on it, or the cap
    /// the server sees would depend on which client happened to send first.
    /// </summary>
    private static void ValidateSharedOrigins(IEnumerable<ClientSettings> clients)
    {
        foreach (var group in clients.Where(c => c.BaseOrigin is not null).GroupBy(c => c.BaseOrigin))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
            {
                if (other.MaxConnections != first.MaxConnections)
                {
                    throw new NetActorsConfigurationException($"netactors.clients.{other.Name}.max-connections",
                        $"{other.MaxConnections} differs from client '{first.Name}' ({first.MaxConnections}), " +
                        $"which uses the same origin {group.Key}; one origin has one connection cap.");
                }

                if (other.QueueCapacity != first.QueueCapacity)
                {
                    throw new NetActorsConfigurationException($"netactors.clients.{other.Name}.queue-capacity",
                        $"{other.QueueCapacity} differs from client '{first.Name}' ({first.QueueCapacity}), " +
                        $"which uses the same origin {group.Key}; one origin has one queue.");
                }

                // The origin's limit and rate are one actor's: settings the origin would not use must not look as if it did.
                if (other.AdaptiveConcurrency != first.AdaptiveConcurrency)
                {
                    throw new NetActorsConfigurationException($"netactors.clients.{other.Name}.adaptive-concurrency",
                        $"differs from client '{first.Name}', which uses the same origin {group.Key}; one origin has one adaptive limit.");
                }

                if (other.AdaptiveRate != first.AdaptiveRate)
                {
                    throw new NetActorsConfigurationException($"netactors.clients.{other.Name}.adaptive-rate",
                        $"differs from client '{first.Name}', which uses the same origin {group.Key}; one origin has one adaptive rate.");
                }
            }
        }
    }
}
