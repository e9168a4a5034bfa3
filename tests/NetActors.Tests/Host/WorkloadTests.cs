using System.Text;
using Microsoft.Extensions.Configuration;
using NetActors.Host;
using NetActors.Host.Options;
using NetActors.Host.Workload;

namespace NetActors.Tests.Host;

public sealed class WorkloadTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = new();

    private static HostRunOptions Read(string[] args, IDictionary<string, string?>? environment = null, string? directory = null)
    {
        var config = HostCommandLine.Build(args, directory ?? AppContext.BaseDirectory, environment ?? NoEnvironment);
        return HostOptionsReader.Read(config, defaultHocon: null);
    }

    [Fact]
    public async Task A_configured_workload_calls_its_endpoints_by_weight_through_the_runtime_with_its_cap_and_auth()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var session = tokens.SignIn(expired: true, tellExpiry: false);
        // The whole workload and the client's settings come from configuration, as a user would write them.
        var environment = new Dictionary<string, string?>
        {
            ["Workload__BaseAddress"] = upstream.BaseAddress.ToString(),
            ["Workload__Endpoints__0__Path"] = "api/items/{random:50}",
            ["Workload__Endpoints__0__Weight"] = "3",
            ["Workload__Endpoints__0__Headers__X-Tenant"] = "acme",
            ["Workload__Endpoints__1__Name"] = "order",
            ["Workload__Endpoints__1__Method"] = "POST",
            ["Workload__Endpoints__1__Path"] = "api/orders",
            ["Workload__Endpoints__1__Body"] = """{"ref":"{uuid}","n":{seq}}""",
            ["Workload__Endpoints__1__IdempotencyKey"] = "true",
            ["Workload__SignIn__AccessToken"] = session.AccessToken,
            ["Workload__SignIn__RefreshToken"] = session.RefreshToken,
            ["NetActors__clients__api__max-connections"] = "2",
            ["NetActors__clients__api__auth-realm"] = "api",
            ["NetActors__auth__realms__api__strategy"] = "endpoint",
            ["NetActors__auth__realms__api__endpoint__path"] = "/auth/refresh",
        };
        var args = new[] { "--duration", "1s", "--rate", "120", "--concurrency", "8", "--no-progress" };
        var options = Read(args, environment);
        Assert.Equal(HostMode.Workload, options.Mode);   // endpoints given: the workload runs, not the demo

        var config = HostCommandLine.Build(args, AppContext.BaseDirectory, environment);
        var report = await WorkloadRunner.RunAsync(options, config, output: null, logging: null, CancellationToken.None);

        Assert.Empty(report.Violations);
        var items = report.Load.Steps.Single(s => s.Name == "GET api/items/{random:50}");
        var orders = report.Load.Steps.Single(s => s.Name == "order");
        Assert.Equal(items.Total + orders.Total, items.Succeeded + orders.Succeeded);
        // The upstream's books: each operation once, less the GETs that shared a wire request, plus the 401s retried.
        Assert.Equal(items.Total + orders.Total - report.Metrics.Deduplicated + tokens.Unauthorized,
            upstream.Seen.Count(r => r.Path.StartsWith("/api/", StringComparison.Ordinal)));
        // Paced: never more than 120/s for 1 s (the first at 0 s), however fast the machine; every operation started finished.
        Assert.InRange(report.Load.Started, 1L, 121L);
        Assert.Equal(report.Load.Started, items.Total + orders.Total);
        // Weights 3:1 from the seeded sequence (seed 1): the k-th operation is an item read when the k-th draw
        // of the seeded sequence over the summed weights falls in the item's share, however many were started.
        var draws = new Random(options.Workload!.Seed);
        Assert.Equal(Enumerable.Range(0, (int)report.Load.Started).Count(_ => draws.Next(4) < 3), items.Total);

        // The cap from configuration held at the upstream; the expired session was refreshed once.
        Assert.Equal(2, report.Origins.Single().Cap);
        Assert.InRange(upstream.MaxConcurrent, 1, 2);
        Assert.Equal(1, tokens.RefreshCalls);

        // Placeholders, headers and idempotency keys reached the wire.
        var seenOrders = upstream.Seen.Where(r => r.Path == "/api/orders").ToList();
        Assert.All(seenOrders, r => Assert.Matches("^\\{\"ref\":\"[0-9a-f-]{36}\",\"n\":[0-9]+\\}$", Encoding.UTF8.GetString(r.Body)));
        // Each order has its own body and key; an order sent again is the same order (same body, same key)
        // retried after a 401, so each of its sends carried a different access token.
        var byOrder = seenOrders.GroupBy(r => Encoding.UTF8.GetString(r.Body)).ToList();
        Assert.Equal(orders.Total, byOrder.Count);
        Assert.Equal(byOrder.Count, seenOrders.Select(r => r.Headers["Idempotency-Key"]).Distinct().Count());
        Assert.All(byOrder, order => Assert.Single(order.Select(r => r.Headers["Idempotency-Key"]).Distinct()));
        Assert.All(byOrder, order => Assert.Equal(order.Count(), order.Select(r => r.Headers["Authorization"]).Distinct().Count()));
        Assert.InRange(seenOrders.Count - byOrder.Count, 0, tokens.Unauthorized);
        Assert.All(upstream.Seen.Where(r => r.Path.StartsWith("/api/items/", StringComparison.Ordinal)),
            r => Assert.Equal("acme", r.Headers["X-Tenant"]));
    }

    [Fact]
    public void Workload_problems_are_reported_together_each_naming_its_key()
    {
        var environment = new Dictionary<string, string?>
        {
            ["Workload__Rate"] = "fast",
            ["Workload__Duration"] = "soon",
            ["Workload__Concurrency"] = "0",
            ["Workload__BaseAddress"] = "ftp://files.example",
            ["Workload__Endpoints__0__Weight"] = "2",
            ["Workload__Endpoints__1__Path"] = "users/{nope}",
            ["Workload__Endpoints__1__Method"] = "FETCH",
            ["Workload__Endpoints__2__Path"] = "users",
            ["Workload__Endpoints__2__Body"] = "{}",
            ["Workload__Endpoints__2__Weight"] = "0",
            ["Workload__Endpoints__3__Path"] = "users",
            ["Workload__Endpoints__3__Method"] = "POST",
            ["Workload__Endpoints__3__ContentType"] = "application/json; charset=latin1",
            ["Workload__Endpoints__3__Headers__Bad Header"] = "x",
            ["Workload__SignIn__RefreshToken"] = "r",
        };

        var e = Assert.Throws<HostConfigurationException>(() => Read([], environment));

        Assert.Equal(
        [
            "Workload:BaseAddress", "Workload:Endpoints:0:Path", "Workload:Endpoints:1:Path", "Workload:Endpoints:1:Method",
            "Workload:Endpoints:2:Body", "Workload:Endpoints:2:Weight", "Workload:Endpoints:3:ContentType",
            "Workload:Endpoints:3:Headers:Bad Header", "Workload:SignIn:AccessToken", "Workload:Duration", "Workload:Rate",
            "Workload:Concurrency",
        ], e.Problems.Select(p => p[..p.IndexOf(": ", StringComparison.Ordinal)]));
        Assert.Contains("Workload:Rate: 'fast' is not a number.", e.Problems);
        Assert.Contains(e.Problems, p => p.StartsWith("Workload:Endpoints:1:Path: unknown placeholder {nope}", StringComparison.Ordinal));
        Assert.DoesNotContain(e.Problems, p => p.Contains("\"r\"", StringComparison.Ordinal));   // no token value in a message
    }

    [Fact]
    public async Task Bad_options_and_bad_runtime_settings_exit_with_2_and_say_what_is_wrong()
    {
        using var dir = new TempDirectory();

        async Task<(int Exit, string Error)> Run(params string[] args)
        {
            var error = new StringWriter();
            var exit = await HostProgram.RunAsync(args, new StringWriter(), error, baseDirectory: dir.Path, environment: NoEnvironment);
            return (exit, error.ToString());
        }

        var typo = await Run("--durration", "5s");
        Assert.Equal((HostProgram.BadConfiguration, true), (typo.Exit, typo.Error.Contains("unknown option '--durration'")));
        var missing = await Run("--rate");
        Assert.Contains("option '--rate' needs a value", missing.Error);
        var stray = await Run("demo");
        Assert.Contains("unexpected argument 'demo'", stray.Error);
        var mode = await Run("--mode", "soak");
        Assert.Contains("Run:Mode: 'soak' is not a mode", mode.Error);
        var settings = await Run("--settings", "nowhere.json");
        Assert.Contains("Run:Settings: the file", settings.Error);

        // A runtime setting that the runtime refuses stops the host before any request, naming the HOCON key.
        var cap = await Run("--Workload:BaseAddress=http://127.0.0.1:9/", "--Workload:Endpoints:0:Path=/x",
            "--NetActors:clients:api:max-connections=0");
        Assert.Equal(HostProgram.BadConfiguration, cap.Exit);
        Assert.Contains("max-connections", cap.Error);

        // A workload naming a client that does not exist.
        var client = await Run("--mode", "workload", "--client", "nope", "--Workload:Endpoints:0:Path=/x");
        Assert.Equal(HostProgram.BadConfiguration, client.Exit);
        Assert.Contains("Workload:Client: there is no NetActors client named 'nope'", client.Error);
    }

    [Fact]
    public void Configuration_sources_follow_the_usual_dotnet_precedence()
    {
        using var dir = new TempDirectory();
        dir.Write("appsettings.json", """{ "Workload": { "Rate": 5, "Concurrency": 3, "Seed": 11, "Endpoints": [ { "Path": "a" } ] } }""");
        var extra = dir.Write("extra.json", """{ "Workload": { "Rate": 6, "Concurrency": 4 } }""");
        var environment = new Dictionary<string, string?> { ["Workload__Rate"] = "7" };

        Assert.Equal((5.0, 3, 11), Shape(Read([], NoEnvironment, dir.Path)));
        Assert.Equal((6.0, 4, 11), Shape(Read(["--settings", extra], NoEnvironment, dir.Path)));
        Assert.Equal((7.0, 4, 11), Shape(Read(["--settings", extra], environment, dir.Path)));
        Assert.Equal((9.0, 4, 11), Shape(Read(["--settings", extra, "--Workload:Rate=9"], environment, dir.Path)));
        Assert.Equal((2.0, 4, 11), Shape(Read(["--settings", extra, "--Workload:Rate=9", "--rate", "2"], environment, dir.Path)));

        static (double, int, int) Shape(HostRunOptions o) => (o.Workload!.Rate, o.Workload.Concurrency, o.Workload.Seed);
    }

    [Fact]
    public void The_NetActors_section_becomes_HOCON_that_the_runtime_reads_with_its_own_types()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetActors:clients:api:max-connections"] = "4",
            ["NetActors:clients:api:total-timeout"] = "45s",
            ["NetActors:clients:api:base-address"] = "http://api.example/v1/",
            ["NetActors:clients:api:deduplicate"] = "off",
            ["NetActors:auth:realms:api:origins:0"] = "https://files.example",
            ["NetActors:auth:realms:api:origins:1"] = "https://cdn.example",
        }).Build();

        var hocon = Akka.Configuration.ConfigurationFactory.ParseString(NetActors.Configuration.ConfigurationReader.ToHocon(config.GetSection("NetActors")))
            .WithFallback(NetActors.Configuration.NetActorsSettings.Reference);
        var settings = NetActors.Configuration.NetActorsSettings.Create(hocon);

        var api = settings.Clients["api"];
        Assert.Equal((4, TimeSpan.FromSeconds(45), false), (api.MaxConnections, api.TotalTimeout, api.Deduplicate));
        Assert.Equal("http://api.example/v1/", api.BaseAddress!.ToString());
        Assert.Equal(["https://cdn.example:443", "https://files.example:443"], settings.Realms["api"].Origins.Order());
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("20s", 20_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("30", 30_000)]
    [InlineData("00:00:20", 20_000)]
    public void Durations_are_read_in_HOCON_or_dotnet_form(string text, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), HostOptionsReader.ParseDuration(text));

    [Fact]
    public async Task Help_explains_the_options_and_the_configuration()
    {
        var output = new StringWriter();

        var exit = await HostProgram.RunAsync(["--help"], output, new StringWriter(), environment: NoEnvironment);

        Assert.Equal(HostProgram.Ok, exit);
        foreach (var option in HostCommandLine.Switches.Keys)
        {
            Assert.Contains(option, output.ToString());
        }

        Assert.Contains("Workload:", output.ToString());
        Assert.Contains("Endpoints", output.ToString());
    }
}
