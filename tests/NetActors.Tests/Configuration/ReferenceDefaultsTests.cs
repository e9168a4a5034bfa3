using System.Text.Json;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using NetActors.Configuration;

namespace NetActors.Tests.Configuration;

/// <summary>Every default is written once, in reference.conf: the C# settings and netactors.hocon agree with it.</summary>
public sealed class ReferenceDefaultsTests
{
    [Fact]
    public void Settings_built_in_csharp_start_from_the_reference_defaults()
    {
        var fromReference = ClientSettings.Create("x", NetActorsSettings.Reference.GetConfig("netactors"));
        var inCode = new ClientSettings { Name = "x" };

        foreach (var property in typeof(ClientSettings).GetProperties().Where(p => p.Name != nameof(ClientSettings.DefaultHeaders)))
        {
            Assert.True(JsonSerializer.Serialize(property.GetValue(fromReference)) == JsonSerializer.Serialize(property.GetValue(inCode)),
                $"{property.Name}: reference.conf {JsonSerializer.Serialize(property.GetValue(fromReference))}, C# {JsonSerializer.Serialize(property.GetValue(inCode))}");
        }

        var realmFromReference = RealmSettings.Create("r", NetActorsSettings.Reference.GetConfig("netactors.auth"),
            new Dictionary<string, ClientSettings>(), hasDelegate: false);
        AssertSameProperties(realmFromReference, new RealmSettings { Name = "r" });
        AssertSameProperties(ClusterSettings.Create(NetActorsSettings.Reference.GetConfig("netactors")),
            new ClusterSettings());

        var settings = NetActorsSettings.Create(ConfigurationFactory.Empty);
        Assert.Equal(settings.DrainTimeout, new NetActorsSettings { Clients = settings.Clients, Realms = settings.Realms, Redaction = settings.Redaction }.DrainTimeout);
        Assert.Equal(JsonSerializer.Serialize(settings.FeatureFlags), JsonSerializer.Serialize(new FeatureFlagsSettings()));
    }

    private static void AssertSameProperties<T>(T fromReference, T inCode)
    {
        foreach (var property in typeof(T).GetProperties())
        {
            var reference = JsonSerializer.Serialize(property.GetValue(fromReference));
            var code = JsonSerializer.Serialize(property.GetValue(inCode));
            Assert.True(reference == code, $"{typeof(T).Name}.{property.Name}: reference.conf {reference}, C# {code}");
        }
    }

    [Fact]
    public void Netactors_hocon_documents_every_key_with_the_reference_default_outside_the_demos_clients()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "NetActors.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("the repository root was not found");
        }

        var documented = Flatten(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(root, "netactors.hocon")))
            .GetConfig("netactors").Root.GetObject(), "");
        var reference = Flatten(NetActorsSettings.Reference.GetConfig("netactors").Root.GetObject(), "");

        // The demo's own clients and realms are its overrides; every other key is the reference's, same value.
        var overrides = documented.Keys.Where(k => k.StartsWith("clients.", StringComparison.Ordinal) ||
                                                   k.StartsWith("auth.realms.", StringComparison.Ordinal)).ToHashSet();
        foreach (var (key, value) in reference.Where(r => r.Key is not "clients" and not "auth.realms"))
        {
            Assert.True(documented.ContainsKey(key), $"netactors.hocon does not document {key}");
            Assert.True(documented[key] == value, $"{key}: netactors.hocon says {documented[key]}, reference.conf {value}");
        }

        Assert.Empty(documented.Keys.Except(reference.Keys).Except(overrides));
        Assert.NotEmpty(overrides);
    }

    private static Dictionary<string, string> Flatten(HoconObject hocon, string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in hocon.Items)
        {
            var path = prefix + key;
            if (value.IsObject() && value.GetObject().Items.Count > 0)
            {
                foreach (var (k, v) in Flatten(value.GetObject(), path + "."))
                {
                    result[k] = v;
                }
            }
            else
            {
                result[path] = value.IsObject() ? "{}" : value.ToString();
            }
        }

        return result;
    }
}
