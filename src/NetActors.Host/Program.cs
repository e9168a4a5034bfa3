using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NetActors;
using NetActors.Configuration;
using NetActors.Host.Demo;
using NetActors.Hosting;
using Serilog;
using Serilog.Events;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        NetActors host: runs the NetActors runtime in a generic host.

        Usage: dotnet run --project src/NetActors.Host [-- options]

        With no options it runs the demo: an in-process upstream on 127.0.0.1 and the startup burst of
        the seed article (many requests at once with an access token the upstream has expired) through a
        client capped at netactors.clients.demo.max-connections. It prints a summary and exits 0, or 1 if
        an invariant broke (more than one refresh, a request without outcome, the cap exceeded).

        Options:
          --requests N     how many requests the burst sends (default 60)
          --help           this text

        Settings are read from netactors.hocon (next to the program) and appsettings.json.
        """);
    return 0;
}

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSerilog(logging => logging
    .MinimumLevel.Information()
    .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
    .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
    .Enrich.FromLogContext()
    .WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}"));

var requests = builder.Configuration.GetValue("requests", 60);
await using var upstream = await DemoUpstream.StartAsync(CancellationToken.None);
var hoconPath = Path.Combine(AppContext.BaseDirectory, "netactors.hocon");

builder.Services.AddNetActors(
    net => net.AddClient("demo", c => c
        .WithBaseAddress(upstream.BaseAddress)
        .WithBearerAuth(auth => auth.WithRefreshEndpoint("/auth/refresh"))),
    actorSystemName: "netactors-host",
    configureAkka: (akka, _) => akka.AddHoconFile(hoconPath, HoconAddMode.Prepend));

using var host = builder.Build();
await host.StartAsync();
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
var net = host.Services.GetRequiredService<INetClient>();
var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
var cap = NetActorsSettings.Create(system).Clients["demo"].MaxConnections;

Log.Information("Demo upstream on {Upstream}; sending a burst of {Requests} requests with an expired token and max-connections {Cap}",
    upstream.BaseAddress, requests, cap);
var summary = await DemoRunner.RunBurstAsync(net, upstream, requests, cap, lifetime.ApplicationStopping);

Console.WriteLine();
Console.WriteLine("NetActors demo summary");
Console.WriteLine($"  requests            {summary.Requests}");
Console.WriteLine($"  succeeded           {summary.Succeeded}");
foreach (var (kind, count) in summary.FailuresByKind.OrderBy(k => k.Key))
{
    Console.WriteLine($"  failed: {kind,-18} {count}");
}

Console.WriteLine($"  without outcome     {summary.WithoutOutcome}");
Console.WriteLine($"  token refreshes     {summary.Refreshes} (401s seen by the upstream: {summary.Unauthorized})");
Console.WriteLine($"  upstream max concurrency {summary.MaxConcurrency} (cap {summary.Cap})");
Console.WriteLine($"  elapsed             {summary.Elapsed.TotalMilliseconds:0} ms");
Console.WriteLine();

await host.StopAsync();
if (summary.Violations.Count > 0)
{
    foreach (var violation in summary.Violations)
    {
        Console.Error.WriteLine("INVARIANT BROKEN: " + violation);
    }

    return 1;
}

Console.WriteLine("All invariants held.");
return 0;
