using System.Net;
using System.Net.Http.Headers;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors.Auth;
using NetActors.Hosting;
using NetActors.Gateway;

namespace NetActors.Benchmarks;

/// <summary>One of the compared clients: sends a GET and reads the whole body, or throws.</summary>
internal interface IBenchClient : IAsyncDisposable
{
    /// <summary>raw, resilience or netactors.</summary>
    string Name { get; }

    /// <summary>GETs <paramref name="url"/> (relative to the server's main origin, or absolute).</summary>
    Task GetAsync(string url, CancellationToken cancellationToken);
}

/// <summary>
/// The three clients at one connection cap, in the order they are interleaved. All three send the bench
/// session's bearer token, so the server does the same work for each: raw and resilience as a default
/// request header, NetActors through its auth realm (signed in, the full default pipeline).
/// </summary>
internal static class BenchClients
{
    public const string Raw = "raw";
    public const string Resilience = "resilience";
    public const string NetActors = "netactors";

    public static async Task<IReadOnlyList<IBenchClient>> CreateAllAsync(IUpstream server, int cap) =>
    [
        new RawClient(server, cap),
        new ResilienceClient(server, cap),
        await NetActorsClient.StartAsync(server, cap),
    ];

    /// <summary>The Authorization header of the bench session.</summary>
    internal static AuthenticationHeaderValue BenchAuthorization(IUpstream server) =>
        new("Bearer", server.BenchAccessToken);

    public static async Task DisposeAllAsync(IEnumerable<IBenchClient> clients)
    {
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    /// <summary>Reads the whole body, as NetActors does before it answers.</summary>
    internal static async Task ReadAsync(HttpClient http, string url, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode}");
        }

        _ = await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }
}

/// <summary>A plain HttpClient over a SocketsHttpHandler capped per server.</summary>
internal sealed class RawClient : IBenchClient
{
    private readonly HttpClient _http;

    public RawClient(IUpstream server, int cap)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = cap,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            BaseAddress = server.BaseAddress,
        };
        _http.DefaultRequestHeaders.Authorization = BenchClients.BenchAuthorization(server);
    }

    public string Name => BenchClients.Raw;

    public Task GetAsync(string url, CancellationToken cancellationToken) =>
        BenchClients.ReadAsync(_http, url, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>IHttpClientFactory with Microsoft.Extensions.Http.Resilience's standard pipeline.</summary>
internal sealed class ResilienceClient : IBenchClient
{
    private readonly ServiceProvider _services;
    private readonly HttpClient _http;

    public ResilienceClient(IUpstream server, int cap)
    {
        var services = new ServiceCollection();
        services.AddHttpClient("r", c =>
            {
                c.BaseAddress = server.BaseAddress;
                c.DefaultRequestHeaders.Authorization = BenchClients.BenchAuthorization(server);
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { MaxConnectionsPerServer = cap })
            .AddStandardResilienceHandler();
        _services = services.BuildServiceProvider();
        _http = _services.GetRequiredService<IHttpClientFactory>().CreateClient("r");
    }

    public string Name => BenchClients.Resilience;

    public Task GetAsync(string url, CancellationToken cancellationToken) =>
        BenchClients.ReadAsync(_http, url, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _services.DisposeAsync();
    }
}

/// <summary>
/// The NetActors runtime in its own generic host (its own actor system), with one client named
/// <c>bench</c> whose base address is the server's main origin, with bearer auth (realm <c>bench</c>, refresh
/// endpoint /auth/refresh), signed in to the bench session once the host has started.
/// </summary>
internal sealed class NetActorsClient : IBenchClient
{
    public const string ClientName = "bench";

    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);

    private readonly IHost _host;

    private NetActorsClient(IHost host, INetClient net, string name)
    {
        _host = host;
        Net = net;
        Name = name;
    }

    public string Name { get; }

    /// <summary>The facade, for scenarios that need more than <see cref="GetAsync(string, CancellationToken)"/>.</summary>
    public INetClient Net { get; }

    /// <summary>The host's services (the runtime's meter, for scenarios that read its gauges).</summary>
    public IServiceProvider Services => _host.Services;

    /// <summary>
    /// Starts a host whose <c>bench</c> client has the given cap and signs it in to the bench session;
    /// <paramref name="configure"/> adds to the client, <paramref name="configureAuth"/> to its auth realm.
    /// </summary>
    public static async Task<NetActorsClient> StartAsync(IUpstream server, int cap,
        Action<ClientBuilder>? configure = null, Action<AuthRealmBuilder>? configureAuth = null, string? hocon = null,
        string name = BenchClients.NetActors)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddNetActors(net => net.AddClient(ClientName, c =>
        {
            c.WithBaseAddress(server.BaseAddress.ToString())
                .WithMaxConnections(cap)
                .WithQueueCapacity(200_000)
                .WithBearerAuth(a =>
                {
                    a.WithRefreshEndpoint("/auth/refresh");
                    configureAuth?.Invoke(a);
                });
            configure?.Invoke(c);
        }), "bench", (akka, _) =>
            // Akka logs that happen while the system shuts down go to stdout; keep them off the report.
            akka.AddHocon("akka.stdout-loglevel = WARNING\n" + hocon, HoconAddMode.Prepend));

        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<ActorRegistry>().GetAsync<NetGateway>();
        var client = new NetActorsClient(host, host.Services.GetRequiredService<INetClient>(), name);
        try
        {
            // Expires long after the run: no refresh is due, so every request simply carries the token.
            using var cts = new CancellationTokenSource(StopLimit);
            await client.Net.SignInAsync(ClientName, new TokenSet(server.BenchAccessToken,
                server.BenchRefreshToken, DateTimeOffset.UtcNow.AddHours(1)), cts.Token);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        return client;
    }

    public async Task GetAsync(string url, CancellationToken cancellationToken)
    {
        var response = await Net.SendAsync(NetRequest.Get(ClientName, url), cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode}");
        }
    }

    /// <summary>GETs an absolute Uri built before the measurement (the strict benchmark's way, as lean raw does).</summary>
    public async Task GetAsync(Uri url, CancellationToken cancellationToken)
    {
        var response = await Net.SendAsync(NetRequest.Get(ClientName, url), cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(StopLimit);
        await _host.StopAsync(cts.Token);
        _host.Dispose();
    }
}
