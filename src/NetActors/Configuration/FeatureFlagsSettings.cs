using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>Where the backend's feature flags come from (<c>netactors.feature-flags</c>).</summary>
public sealed record FeatureFlagsSettings
{
    /// <summary>Whether flags are fetched at all.</summary>
    public bool Enabled { get; init; }

    /// <summary>The client whose pipeline (auth, caps, retries, cache) fetches them.</summary>
    public string Client { get; init; } = string.Empty;

    /// <summary>The flags endpoint, relative to the client's base address.</summary>
    public string Path { get; init; } = Configuration.ReferenceDefaults.String("feature-flags.path");

    /// <summary>Where the flags object is in the JSON (dotted); empty when the body is the object.</summary>
    public string FlagsPath { get; init; } = string.Empty;

    /// <summary>How often the flags are fetched again.</summary>
    public TimeSpan RefreshInterval { get; init; } = Configuration.ReferenceDefaults.Duration("feature-flags.refresh-interval");

    internal static FeatureFlagsSettings Create(Config netactors, IReadOnlyDictionary<string, ClientSettings> clients)
    {
        var r = new HoconReader(netactors.GetConfig("feature-flags") ?? Config.Empty, "netactors.feature-flags.");
        var settings = new FeatureFlagsSettings
        {
            Enabled = r.Bool("enabled"),
            Client = r.String("client"),
            Path = r.String("path"),
            FlagsPath = r.String("flags-path"),
            RefreshInterval = r.Duration("refresh-interval"),
        };
        if (settings.Enabled && !clients.ContainsKey(settings.Client))
        {
            throw r.Invalid("client", $"'{settings.Client}' is not a configured client (configured: {string.Join(", ", clients.Keys.Order())}).");
        }

        if (settings.Enabled && string.IsNullOrWhiteSpace(settings.Path))
        {
            throw r.Invalid("path", "the flags endpoint is empty.");
        }

        return settings;
    }
}
