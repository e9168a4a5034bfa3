using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Microsoft.Extensions.Configuration;
using NetActors.Configuration;

namespace NetActors.Tests.Configuration;

/// <summary>NetActors settings from .NET configuration (appsettings.json, environment variables) and from HOCON.</summary>
public sealed class DotnetConfigurationTests
{
    private const string Hocon = """
        netactors {
          client-defaults {
            retry { max-attempts = 4 }
            response-timeout = 8s
          }
          clients {
            OrdersApi {
              base-address = "https://orders.example/v2/"
              max-connections = 12
              queue-capacity = 300
              connect-timeout = 3s
              total-timeout = 45s
              max-response-size = 2MiB
              auth-realm = Main
              send-app-headers = off
              headers { "X-Tenant" = "acme" }
              retry { base-delay = 250ms, max-delay = 5s, jitter = 0.2, idempotency-keys = on }
              rate-limit { permits-per-second = 20, burst = 5 }
              circuit-breaker { failure-ratio = 0.25, break-duration = 10s }
              adaptive-concurrency { enabled = on, algorithm = aimd, min-limit = 2, max-limit = 10, initial-limit = 4, window = 200ms }
              adaptive-rate { enabled = on, min-rate = 2, max-rate = 40, decrease-factor = 0.8 }
              cache {
                enabled = on
                stale-if-error = 1m
                path-ttls { "/reference/*" = 10m }
              }
              json { naming-policy = snake-case-lower, read-policy = strict }
            }
            files { base-address = "https://files.example/", auth-realm = Main, deduplicate = off }
          }
          auth.realms.Main {
            strategy = endpoint
            origins = ["https://cdn.example", "https://media.example"]
            refresh-skew = 30s
            refresh-retry { min-backoff = 100ms, max-backoff = 3s }
            endpoint {
              path = "/auth/refresh"
              body-format = form
              body { grant = "{refresh_token}" }
            }
          }
          logging { redacted-query-parameters = ["tenant_secret"] }
          shutdown.drain-timeout = 7s
        }
        """;

    // The same settings as appsettings.json has them: keys in PascalCase, kebab-case or with underscores.
    private const string Json = """
        {
          "NetActors": {
            "ClientDefaults": { "Retry": { "MaxAttempts": 4 }, "response-timeout": "8s" },
            "Clients": {
              "OrdersApi": {
                "BaseAddress": "https://orders.example/v2/",
                "MaxConnections": 12,
                "queue_capacity": 300,
                "ConnectTimeout": "3s",
                "total-timeout": "45s",
                "MaxResponseSize": "2MiB",
                "AuthRealm": "Main",
                "SendAppHeaders": false,
                "Headers": { "X-Tenant": "acme" },
                "Retry": { "BaseDelay": "250ms", "MaxDelay": "5s", "Jitter": 0.2, "IdempotencyKeys": true },
                "RateLimit": { "PermitsPerSecond": 20, "Burst": 5 },
                "CircuitBreaker": { "FailureRatio": 0.25, "BreakDuration": "10s" },
                "AdaptiveConcurrency": { "Enabled": true, "Algorithm": "aimd", "MinLimit": 2, "max_limit": 10, "InitialLimit": 4, "Window": "200ms" },
                "AdaptiveRate": { "Enabled": true, "MinRate": 2, "MaxRate": 40, "DecreaseFactor": 0.8 },
                "Cache": { "Enabled": true, "StaleIfError": "1m", "PathTtls": { "/reference/*": "10m" } },
                "Json": { "NamingPolicy": "snake-case-lower", "ReadPolicy": "strict" }
              },
              "files": { "BaseAddress": "https://files.example/", "AuthRealm": "Main", "Deduplicate": false }
            },
            "Auth": {
              "Realms": {
                "Main": {
                  "Strategy": "endpoint",
                  "Origins": [ "https://cdn.example", "https://media.example" ],
                  "RefreshSkew": "30s",
                  "RefreshRetry": { "MinBackoff": "100ms", "MaxBackoff": "3s" },
                  "Endpoint": { "Path": "/auth/refresh", "BodyFormat": "form", "Body": { "grant": "{refresh_token}" } }
                }
              }
            },
            "Logging": { "RedactedQueryParameters": [ "tenant_secret" ] },
            "Shutdown": { "DrainTimeout": "7s" }
          }
        }
        """;

    private static IConfigurationRoot FromJson(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    private static NetActorsSettings Read(IConfiguration section) =>
        NetActorsSettings.Create(ConfigurationFactory.ParseString(ConfigurationReader.ToHocon(section)));

    /// <summary>Every public property of a settings object, as JSON, by name: compared one by one.</summary>
    private static Dictionary<string, string> Settings(object settings) =>
        settings.GetType().GetProperties()
            .ToDictionary(p => p.Name, p => JsonSerializer.Serialize(p.GetValue(settings)));

    [Fact]
    public void The_same_clients_and_realms_from_HOCON_and_from_appsettings_json_are_equal_setting_by_setting()
    {
        var fromHocon = NetActorsSettings.Create(ConfigurationFactory.ParseString(Hocon));
        var fromJson = Read(FromJson(Json).GetSection("NetActors"));

        Assert.Equal(["OrdersApi", "files"], fromJson.Clients.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["Main"], fromJson.Realms.Keys);
        foreach (var name in fromHocon.Clients.Keys)
        {
            var (hocon, json) = (Settings(fromHocon.Clients[name]), Settings(fromJson.Clients[name]));
            foreach (var (setting, value) in hocon)
            {
                Assert.True(value == json[setting], $"client {name}, {setting}: HOCON {value}, configuration {json[setting]}");
            }
        }

        var (realmHocon, realmJson) = (Settings(fromHocon.Realms["Main"]), Settings(fromJson.Realms["Main"]));
        foreach (var (setting, value) in realmHocon)
        {
            Assert.True(value == realmJson[setting], $"realm Main, {setting}: HOCON {value}, configuration {realmJson[setting]}");
        }

        Assert.Equal(fromHocon.DrainTimeout, fromJson.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), fromJson.DrainTimeout);
        Assert.Equal("/reference/x?tenant_secret=***", fromJson.Redaction.Url("/reference/x?tenant_secret=s3cr3t"));
        // The settings really are the configured ones, not two sets of defaults that happen to agree.
        var orders = fromJson.Clients["OrdersApi"];
        Assert.Equal((12, 300, 4, TimeSpan.FromSeconds(8)), (orders.MaxConnections, orders.QueueCapacity, orders.Retry.MaxAttempts, orders.ResponseTimeout));
        Assert.Equal(JsonReadPolicy.Strict, orders.Json.ReadPolicy);
        Assert.Equal((true, AdaptiveAlgorithm.Aimd, 2, 10, 4, TimeSpan.FromMilliseconds(200)),
            (orders.AdaptiveConcurrency.Enabled, orders.AdaptiveConcurrency.Algorithm, orders.AdaptiveConcurrency.MinLimit,
                orders.AdaptiveConcurrency.MaxLimit, orders.AdaptiveConcurrency.InitialLimit, orders.AdaptiveConcurrency.Window));
        Assert.Equal((true, 2.0, 40.0, 0.8), (orders.AdaptiveRate.Enabled, orders.AdaptiveRate.MinRate, orders.AdaptiveRate.MaxRate, orders.AdaptiveRate.DecreaseFactor));
        Assert.Equal("acme", orders.DefaultHeaders.Single(h => h.Key == "X-Tenant").Value);
        Assert.Equal(TimeSpan.FromMinutes(10), orders.Cache.TtlFor("/reference/countries"));
    }

    [Fact]
    public void An_environment_variable_after_json_replaces_the_value_even_spelled_with_underscores()
    {
        // The case the issue found: JSON max-connections = 4, the environment max_connections = 2. .NET precedence
        // says the later source wins: 2 (not 4, and never "42").
        var prefix = $"NETACTORS_TEST_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(prefix + "NetActors__clients__api__max_connections", "2");
        try
        {
            const string json = """{ "NetActors": { "clients": { "api": { "max-connections": 4 } } } }""";
            var envLast = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
                .AddEnvironmentVariables(prefix).Build();
            var jsonLast = new ConfigurationBuilder().AddEnvironmentVariables(prefix)
                .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

            Assert.Equal(2, Read(envLast.GetSection("NetActors")).Clients["api"].MaxConnections);
            Assert.Equal(4, Read(jsonLast.GetSection("NetActors")).Clients["api"].MaxConnections);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "NetActors__clients__api__max_connections", null);
        }
    }

    [Fact]
    public void A_later_source_replaces_a_list_rather_than_merging_it_item_by_item()
    {
        var config = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(
                """{ "NetActors": { "auth": { "realms": { "r": { "origins": [ "https://a.example", "https://b.example" ] } } } } }""")))
            .AddInMemoryCollection(new Dictionary<string, string?> { ["NetActors:auth:realms:r:origins"] = "https://c.example" })
            .Build();

        var hocon = ConfigurationReader.ToHocon(config.GetSection("NetActors"));

        Assert.Contains("\"origins\" = [\"https://c.example\"]", hocon);
        var settings = NetActorsSettings.Create(ConfigurationFactory.ParseString(hocon));
        Assert.Equal(["https://c.example:443"], settings.Realms["r"].Origins);
    }

    [Theory]
    [InlineData("NetActors:clients:api:max-conections", "2", "NetActors:clients:api:max-conections", "max-connections")]
    [InlineData("NetActors:clients:api:Retry:MaxAttemps", "2", "NetActors:clients:api:Retry:MaxAttemps", "max-attempts")]
    [InlineData("NetActors:ClientDefault:max-connections", "2", "NetActors:ClientDefault", "client-defaults")]
    [InlineData("NetActors:auth:realms:main:refresh_skw", "5s", "NetActors:auth:realms:main:refresh_skw", "refresh-skew")]
    public void An_unknown_key_in_configuration_fails_naming_it_and_the_closest_known_key(
        string key, string value, string named, string closest)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        var error = Assert.Throws<NetActorsConfigurationException>(() => ConfigurationReader.ToHocon(config.GetSection("NetActors")));

        Assert.Equal(named, error.Key);
        Assert.Contains($"'{closest}'", error.Message);
    }

    [Fact]
    public void An_unknown_key_in_HOCON_fails_naming_it_and_the_closest_known_key()
    {
        var error = Assert.Throws<NetActorsConfigurationException>(() =>
            NetActorsSettings.Create(ConfigurationFactory.ParseString("netactors.clients.api { max-conections = 2 }")));

        Assert.Equal("netactors.clients.api.max-conections", error.Key);
        Assert.Contains("'max-connections'", error.Message);
    }

    [Theory]
    [InlineData("NetActors:clients:api:response-timeout", "500")]
    [InlineData("NetActors:clients:api:Cache:PathTtls:/reference/*", "600")]
    [InlineData("NetActors:Shutdown:DrainTimeout", "5")]
    public void A_duration_without_a_unit_in_configuration_fails_naming_the_key(string key, string value)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        var error = Assert.Throws<NetActorsConfigurationException>(() => ConfigurationReader.ToHocon(config.GetSection("NetActors")));

        Assert.Equal(key, error.Key);
        Assert.Contains("without a unit", error.Message);
    }

    [Fact]
    public void A_duration_without_a_unit_in_HOCON_fails_naming_the_key()
    {
        var error = Assert.Throws<NetActorsConfigurationException>(() =>
            NetActorsSettings.Create(ConfigurationFactory.ParseString("netactors.clients.api { response-timeout = 500 }")));

        Assert.Equal("netactors.clients.api.response-timeout", error.Key);
        Assert.Contains("without a unit", error.Message);
    }

    [Fact]
    public void Client_and_realm_names_keep_their_case_from_configuration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetActors:Clients:MyApi:BaseAddress"] = "https://my.example/",
            ["NetActors:Clients:MyApi:AuthRealm"] = "CorpSSO",
            ["NetActors:Auth:Realms:CorpSSO:Strategy"] = "none",
        }).Build();

        var settings = Read(config.GetSection("NetActors"));

        Assert.Equal("MyApi", Assert.Single(settings.Clients.Keys));
        Assert.Equal("CorpSSO", Assert.Single(settings.Realms.Keys));
        Assert.Equal("CorpSSO", settings.Clients["MyApi"].AuthRealm);
    }
}
