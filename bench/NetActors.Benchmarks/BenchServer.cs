using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NetActors.Benchmarks;

/// <summary>
/// The one in-process Kestrel server every client talks to, on 127.0.0.1 only. It listens on one main port
/// and on <c>origins</c> further ports (distinct origins for the many-origins scenario), and it counts what
/// it sees: requests (in all, in progress and their maximum since the last reset) and connections.
/// /small and /slow answer 401 unless the request carries the bench session's bearer token; /storm and
/// POST /auth/refresh serve the storm scenario (see <see cref="BenchTokens"/>). Under /__bench (not counted as
/// requests) a bench in another process reads the counters and starts storm sessions (<c>--serve</c> mode).
/// </summary>
internal sealed class BenchServer : IUpstream, IAsyncDisposable
{
    /// <summary>The control endpoints' path; requests to it are not counted.</summary>
    public const string ControlPath = "/__bench";

    /// <summary>The ~100-byte JSON body of /small and /slow.</summary>
    public static readonly byte[] SmallBody =
        """{"id":42,"name":"netactors-bench","tags":["small","json"],"ok":true,"note":"fixed body, ~100 bytes"}"""u8
            .ToArray();

    private static readonly TimeSpan GateLimit = TimeSpan.FromMinutes(5);

    private static readonly byte[] InvalidGrant = """{"error":"invalid_grant"}"""u8.ToArray();
    private static readonly byte[] InvalidRequest = """{"error":"invalid_request"}"""u8.ToArray();

    private readonly WebApplication _app;
    private long _requests;
    private int _inProgress;
    private int _maxInProgress;
    private int _openConnections;
    private long _acceptedConnections;
    private volatile TaskCompletionSource _gate = NewSignal(completed: true);
    private volatile TaskCompletionSource _blockArrived = NewSignal(completed: true);

    private BenchServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The main origin, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The further ports, one distinct origin each.</summary>
    public IReadOnlyList<int> OriginPorts { get; private set; } = [];

    /// <summary>/capacity: serves 8 at once at 20 ms and slows everything down beyond (the adaptive scenario's server).</summary>
    public NetActors.Tests.Infrastructure.CapacityEndpoint Capacity { get; } = new(8, TimeSpan.FromMilliseconds(20));

    /// <summary>/capacity-503: serves 8 at once at 20 ms and answers 503 beyond.</summary>
    public NetActors.Tests.Infrastructure.CapacityEndpoint CapacityRejecting { get; } =
        new(8, TimeSpan.FromMilliseconds(20), NetActors.Tests.Infrastructure.BeyondCapacity.Reject);

    /// <summary>The server's side of bearer auth: the valid tokens, refreshes and 401s.</summary>
    public BenchTokens Tokens { get; } = new();

    public string BenchAccessToken => Tokens.BenchAccessToken;

    public string BenchRefreshToken => Tokens.BenchRefreshToken;

    /// <summary>Requests received since the start.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Most requests in progress at once since the last <see cref="ResetMaxConcurrency"/>.</summary>
    public int MaxConcurrency => Volatile.Read(ref _maxInProgress);

    /// <summary>Requests in progress now.</summary>
    public int InProgress => Volatile.Read(ref _inProgress);

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>Connections accepted since the start.</summary>
    public long AcceptedConnections => Interlocked.Read(ref _acceptedConnections);

    public static async Task<BenchServer> StartAsync(int originPorts)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        BenchServer? server = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            for (var i = 0; i <= originPorts; i++)
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => async connection =>
                {
                    server!.OnConnectionOpened();
                    try
                    {
                        await next(connection);
                    }
                    finally
                    {
                        server!.OnConnectionClosed();
                    }
                }));
            }
        });

        var app = builder.Build();
        server = new BenchServer(app);
        app.Use(server.CountInProgressAsync);
        app.MapGet("/small", context => server.Tokens.IsBenchAuthorized(context.Request.Headers.Authorization)
            ? WriteSmallAsync(context)
            : WriteUnauthorizedAsync(context));
        app.MapGet("/slow", async context =>
        {
            if (!server.Tokens.IsBenchAuthorized(context.Request.Headers.Authorization))
            {
                await WriteUnauthorizedAsync(context);
                return;
            }

            await Task.Delay(BenchSettings.SlowDelay, context.RequestAborted);
            await WriteSmallAsync(context);
        });
        app.MapGet("/work", async context =>
        {
            // A server with a real service time: 2 ms per request.
            await Task.Delay(BenchSettings.WorkDelay, context.RequestAborted);
            await WriteSmallAsync(context);
        });
        app.MapGet("/block", server.BlockAsync);
        app.MapGet("/capacity", context => server.Capacity.HandleAsync(context));
        app.MapGet("/capacity-503", context => server.CapacityRejecting.HandleAsync(context));
        app.MapGet("/storm", context => server.Tokens.IsStormAuthorized(context.Request.Headers.Authorization)
            ? WriteSmallAsync(context)
            : WriteUnauthorizedAsync(context));
        app.MapPost("/auth/refresh", server.RefreshAsync);
        app.MapGet(ControlPath + "/counters", async context =>
            await context.Response.WriteAsJsonAsync(await server.CountersAsync(), context.RequestAborted));
        app.MapPost(ControlPath + "/reset-max", () => server.ResetMaxConcurrency());
        app.MapPost(ControlPath + "/storm-session", () =>
        {
            var (stale, refresh) = server.Tokens.StartStormSession();
            return new Dictionary<string, string> { ["stale"] = stale, ["refresh"] = refresh };
        });

        await app.StartAsync();
        var ports = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.Select(a => new Uri(a).Port).ToList();
        if (ports.Count != originPorts + 1 || ports.Distinct().Count() != ports.Count)
        {
            throw new InvalidOperationException($"Kestrel bound {ports.Count} distinct ports, expected {originPorts + 1}.");
        }

        server.BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/");
        server.OriginPorts = ports.Skip(1).ToArray();
        return server;
    }

    /// <summary>Forgets the maximum seen so far (call between measurements, when idle).</summary>
    public void ResetMaxConcurrency() => Volatile.Write(ref _maxInProgress, InProgress);

    public Task<UpstreamCounters> CountersAsync() => Task.FromResult(new UpstreamCounters(Requests, MaxConcurrency,
        OpenConnections, AcceptedConnections, Tokens.Refreshes, Tokens.RejectedRefreshes, Tokens.StormUnauthorized));

    public Task ResetMaxConcurrencyAsync()
    {
        ResetMaxConcurrency();
        return Task.CompletedTask;
    }

    public Task<(string StaleAccessToken, string RefreshToken)> StartStormSessionAsync() =>
        Task.FromResult(Tokens.StartStormSession());

    /// <summary>
    /// Closes the gate of /block for the next request; the task completes when a request reaches /block.
    /// </summary>
    public Task ArmBlockGate()
    {
        _gate = NewSignal(completed: false);
        var arrived = NewSignal(completed: false);
        _blockArrived = arrived;
        return arrived.Task;
    }

    /// <summary>Lets the request waiting at /block answer.</summary>
    public void ReleaseBlockGate() => _gate.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        ReleaseBlockGate();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static TaskCompletionSource NewSignal(bool completed)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            signal.SetResult();
        }

        return signal;
    }

    private static Task WriteSmallAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = SmallBody.Length;
        return context.Response.Body.WriteAsync(SmallBody, 0, SmallBody.Length, context.RequestAborted);
    }

    private static Task WriteUnauthorizedAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    }

    private static Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }

    /// <summary>
    /// POST /auth/refresh with <c>{"refresh_token": "..."}</c>: new tokens (the refresh token rotates), or
    /// 400 <c>invalid_grant</c> for a used or unknown refresh token.
    /// </summary>
    private async Task RefreshAsync(HttpContext context)
    {
        string? refreshToken = null;
        try
        {
            using var json = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            if (json.RootElement.ValueKind == JsonValueKind.Object &&
                json.RootElement.TryGetProperty("refresh_token", out var value) && value.ValueKind == JsonValueKind.String)
            {
                refreshToken = value.GetString();
            }
        }
        catch (JsonException)
        {
            // Not JSON: answered below as a malformed request.
        }

        if (refreshToken is null)
        {
            await WriteJsonAsync(context, StatusCodes.Status400BadRequest, InvalidRequest);
            return;
        }

        var granted = Tokens.Refresh(refreshToken);
        if (granted is null)
        {
            await WriteJsonAsync(context, StatusCodes.Status400BadRequest, InvalidGrant);
            return;
        }

        var (access, refresh) = granted.Value;

        // Tokens are hex digits: nothing to escape.
        var body = Encoding.UTF8.GetBytes(
            $$"""{"access_token":"{{access}}","refresh_token":"{{refresh}}","token_type":"Bearer","expires_in":3600}""");
        await WriteJsonAsync(context, StatusCodes.Status200OK, body);
    }

    private async Task CountInProgressAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments(ControlPath))
        {
            await next(context);
            return;
        }

        Interlocked.Increment(ref _requests);
        var now = Interlocked.Increment(ref _inProgress);
        var max = Volatile.Read(ref _maxInProgress);
        while (now > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxInProgress, now, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }

        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inProgress);
        }
    }

    private async Task BlockAsync(HttpContext context)
    {
        var gate = _gate;
        _blockArrived.TrySetResult();
        await gate.Task.WaitAsync(GateLimit, context.RequestAborted);
        await WriteSmallAsync(context);
    }

    private void OnConnectionOpened()
    {
        Interlocked.Increment(ref _openConnections);
        Interlocked.Increment(ref _acceptedConnections);
    }

    private void OnConnectionClosed() => Interlocked.Decrement(ref _openConnections);
}
