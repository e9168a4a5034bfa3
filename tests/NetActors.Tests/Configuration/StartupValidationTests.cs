using NetActors.Configuration;
using NetActors.Hosting;

namespace NetActors.Tests.Configuration;

public sealed class StartupValidationTests
{
    public static TheoryData<string, string> BadSettings => new()
    {
        { "max-connections = 0", "netactors.clients.api.max-connections" },
        { "queue-capacity = -1", "netactors.clients.api.queue-capacity" },
        { "response-timeout = 40s\ntotal-timeout = 30s", "netactors.clients.api.response-timeout" },
        { "base-address = \"ftp://example.com\"", "netactors.clients.api.base-address" },
        { "base-address = \"relative/path\"", "netactors.clients.api.base-address" },
        { "total-timeout = banana", "netactors.clients.api.total-timeout" },
        { "max-response-size = 0", "netactors.clients.api.max-response-size" },
        { "headers { \"Bad Name\" = x }", "netactors.clients.api.headers.Bad Name" },
        { "cache { max-bytes = 1MiB, max-entry-bytes = 2MiB }", "netactors.clients.api.cache.max-entry-bytes" },
        { "cache.path-ttls { \"reference/*\" = 1m }", "netactors.clients.api.cache.path-ttls.\"reference/*\"" },
        { "cache.stale-if-error = soon", "netactors.clients.api.cache.stale-if-error" },
        { "json.naming-policy = shouting", "netactors.clients.api.json.naming-policy" },
        { "json.read-policy = lenient", "netactors.clients.api.json.read-policy" },
        { "max-connections = 8\nadaptive-concurrency { enabled = on, max-limit = 16 }", "netactors.clients.api.adaptive-concurrency.max-limit" },
        { "max-connections = 8\nadaptive-concurrency { enabled = on, min-limit = 9 }", "netactors.clients.api.adaptive-concurrency.min-limit" },
        { "adaptive-concurrency { enabled = on, min-limit = 4, initial-limit = 2 }", "netactors.clients.api.adaptive-concurrency.initial-limit" },
        { "adaptive-concurrency { enabled = on, algorithm = vegas }", "netactors.clients.api.adaptive-concurrency.algorithm" },
        { "adaptive-concurrency.window = 100", "netactors.clients.api.adaptive-concurrency.window" },
        { "adaptive-rate.enabled = on", "netactors.clients.api.adaptive-rate.max-rate" },
        { "rate-limit.permits-per-second = 50\nadaptive-rate { enabled = on, max-rate = 20 }", "netactors.clients.api.adaptive-rate.max-rate" },
        { "adaptive-rate { enabled = on, max-rate = 20, min-rate = 30 }", "netactors.clients.api.adaptive-rate.min-rate" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Impossible_settings_stop_startup_with_a_message_naming_the_key(string hocon, string key)
    {
        using var host = NetHost.Build(n => n.WithHocon($"netactors.clients.api {{\n{hocon}\n}}"));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal(key, error.Key);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public async Task Builder_settings_are_validated_the_same_way()
    {
        using var host = NetHost.Build(n => n.AddClient("api", c => c.WithMaxConnections(0)));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.clients.api.max-connections", error.Key);
    }

    [Fact]
    public async Task Two_clients_on_one_origin_must_agree_on_the_cap()
    {
        using var host = NetHost.Build(n => n
            .AddClient("a", c => c.WithBaseAddress("https://api.example.com/v1").WithMaxConnections(4))
            .AddClient("b", c => c.WithBaseAddress("https://api.example.com/v2").WithMaxConnections(8)));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Contains("one connection cap", error.Message);
    }

    [Fact]
    public async Task Two_clients_on_one_origin_must_agree_on_its_adaptive_limit()
    {
        using var host = NetHost.Build(n => n
            .AddClient("a", c => c.WithBaseAddress("https://api.example.com/v1").WithMaxConnections(8).WithAdaptiveConcurrency())
            .AddClient("b", c => c.WithBaseAddress("https://api.example.com/v2").WithMaxConnections(8)));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.clients.b.adaptive-concurrency", error.Key);
        Assert.Contains("one adaptive limit", error.Message);
    }

    [Fact]
    public void Reference_defaults_are_valid_and_documented_values_hold()
    {
        var settings = NetActorsSettings.Create(Akka.Configuration.ConfigurationFactory.ParseString("netactors.clients.api {}"));
        var api = settings.Clients["api"];

        Assert.Equal(6, api.MaxConnections);
        Assert.Equal(1024, api.QueueCapacity);
        Assert.Equal(TimeSpan.FromSeconds(30), api.TotalTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), api.ResponseTimeout);
        Assert.Equal(16 * 1024 * 1024, api.MaxResponseSize);
    }

    [Fact]
    public void The_repository_netactors_hocon_parses_and_validates()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "netactors.hocon");
        var settings = NetActorsSettings.Create(Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(path)));

        Assert.True(settings.Clients.ContainsKey("demo"));
    }
}
