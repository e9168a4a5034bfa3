using System.Net;
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
/// it sees: requests in progress (and their maximum since the last reset) and connections.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    /// <summary>The ~100-byte JSON body of /small and /slow.</summary>
    public static readonly byte[] SmallBody =
        """{"id":42,"name":"netactors-bench","tags":["small","json"],"ok":true,"note":"fixed body, ~100 bytes"}"""u8
            .ToArray();

    private static readonly TimeSpan GateLimit = TimeSpan.FromMinutes(5);

    private readonly WebApplication _app;
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
        app.MapGet("/small", WriteSmallAsync);
        app.MapGet("/slow", async context =>
        {
            await Task.Delay(BenchSettings.SlowDelay, context.RequestAborted);
            await WriteSmallAsync(context);
        });
        app.MapGet("/block", server.BlockAsync);

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

    private async Task CountInProgressAsync(HttpContext context, RequestDelegate next)
    {
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
