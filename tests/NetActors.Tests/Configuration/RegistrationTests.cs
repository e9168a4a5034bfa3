using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors.Configuration;
using NetActors.Hosting;

namespace NetActors.Tests.Configuration;

/// <summary>How an application registers NetActors: one call is enough; half a registration fails at startup.</summary>
public sealed class RegistrationTests
{
    private static HostApplicationBuilder NewHost()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        return builder;
    }

    [Fact]
    public async Task One_call_with_a_configuration_section_runs_the_clients_it_declares()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/hello", 200, "{\"hi\":1}");
        var builder = NewHost();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetActors:Clients:Greeter:BaseAddress"] = upstream.BaseAddress.ToString(),
            ["NetActors:Clients:Greeter:MaxConnections"] = "3",
        });
        builder.Services.AddNetActors(builder.Configuration.GetSection("NetActors"));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var net = host.Services.GetRequiredService<INetClient>();

            var response = await net.SendAsync(NetRequest.Get("Greeter", "hello"));

            Assert.Equal(200, (int)response.StatusCode);
            var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
            Assert.Equal(3, NetActorsSettings.Create(system).Clients["Greeter"].MaxConnections);
            Assert.Equal("OFF", system.Settings.StdoutLogLevel);   // Akka logs to Microsoft.Extensions.Logging only
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_application_with_its_own_AddAkka_adds_the_section_with_WithNetActors()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/hello", 200, "{}");
        var builder = NewHost();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetActors:Clients:Greeter:BaseAddress"] = upstream.BaseAddress.ToString(),
        });
        builder.Services.AddAkka("app", (akka, _) => akka.WithNetActors(builder.Configuration.GetSection("NetActors")));
        builder.Services.AddNetActors();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var response = await host.Services.GetRequiredService<INetClient>().SendAsync(NetRequest.Get("Greeter", "hello"));

            Assert.Equal(200, (int)response.StatusCode);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_unknown_key_in_the_section_stops_startup_naming_it()
    {
        var builder = NewHost();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetActors:Clients:api:max-conections"] = "2",
        });
        builder.Services.AddNetActors(builder.Configuration.GetSection("NetActors"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        var bad = Assert.IsType<NetActorsConfigurationException>(Unwrap(error));
        Assert.Equal("NetActors:Clients:api:max-conections", bad.Key);
        Assert.Contains("'max-connections'", bad.Message);
    }

    [Fact]
    public async Task The_services_without_the_actor_system_fail_at_startup_saying_what_is_missing()
    {
        var builder = NewHost();
        builder.Services.AddNetActors();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("no actor system", error.Message);
        Assert.Contains("AddNetActors(configuration.GetSection", error.Message);
    }

    [Fact]
    public async Task An_actor_system_without_WithNetActors_fails_at_startup_saying_what_is_missing()
    {
        var builder = NewHost();
        builder.Services.AddNetActors();
        builder.Services.AddAkka("app", (akka, _) => akka.AddHocon("akka.stdout-loglevel = OFF", HoconAddMode.Prepend));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("WithNetActors", error.Message);
        await host.StopAsync();
    }

    [Fact]
    public void The_one_call_refuses_an_actor_system_that_is_already_registered()
    {
        var services = new ServiceCollection();
        services.AddAkka("app", (_, _) => { });

        var error = Assert.Throws<InvalidOperationException>(() => services.AddNetActors(_ => { }));

        Assert.Contains("WithNetActors", error.Message);
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: > 0 } aggregate ? Unwrap(aggregate.InnerExceptions[0])
        : e.InnerException is { } inner && e is not NetActorsConfigurationException ? Unwrap(inner)
        : e;
}
