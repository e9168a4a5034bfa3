using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NetActors.Host.Demo;

/// <summary>
/// One origin of the demo upstream: Kestrel on 127.0.0.1 on a free port, in this process. It counts the requests
/// it has in progress and keeps the highest count it ever saw, which is what the connection cap is checked
/// against. A request stops counting when its response starts, when its handler ends, or when its connection is
/// gone, whichever comes first: the client cannot know of the request's end any sooner.
/// </summary>
internal sealed class DemoOrigin : IAsyncDisposable
{
    private const string EndKey = "demo-origin-end";
    private readonly WebApplication _app;
    private int _current;
    private int _max;
    private int _total;

    private DemoOrigin(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    /// <summary>The origin's role in the demo (api, files, public).</summary>
    public string Name { get; }

    /// <summary>The base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>scheme://host:port, as the runtime's metrics tag origins.</summary>
    public string Origin => NetActors.Configuration.Origins.KeyOf(BaseAddress);

    /// <summary>The most requests in progress at once.</summary>
    public int MaxConcurrent => Volatile.Read(ref _max);

    /// <summary>Requests received.</summary>
    public int Requests => Volatile.Read(ref _total);

    /// <summary>Starts an origin whose routes <paramref name="map"/> adds after the counting middleware.</summary>
    public static async Task<DemoOrigin> StartAsync(string name, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0);
            o.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var origin = new DemoOrigin(name, app);
        app.Use(origin.CountAsync);
        map(app);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        origin.BaseAddress = new Uri(address + "/");
        return origin;
    }

    /// <summary>Drops the connection without an answer (a reset, as the client sees it).</summary>
    public static Task ResetAsync(HttpContext context)
    {
        // Stop counting first: the client reconnects as soon as it sees the reset.
        ((Action)context.Items[EndKey]!)();
        context.Abort();
        return Task.CompletedTask;
    }

    private async Task CountAsync(HttpContext context, RequestDelegate next)
    {
        Interlocked.Increment(ref _total);
        var now = Interlocked.Increment(ref _current);
        int seen;
        while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
        {
        }

        var ended = 0;
        void End()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0)
            {
                Interlocked.Decrement(ref _current);
            }
        }

        context.Items[EndKey] = (Action)End;
        context.Response.OnStarting(() =>
        {
            End();
            return Task.CompletedTask;
        });
        using var aborted = context.RequestAborted.Register(End);
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            End();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// The demo upstream's faults, from a seeded random sequence: 503s, 500s, connection resets and slow answers,
/// each at a share of <see cref="Rate"/>. Off until <see cref="Enabled"/> is set.
/// </summary>
internal sealed class DemoChaos(int seed, double rate)
{
    private readonly Random _random = new(seed);
    private readonly ConcurrentDictionary<string, int> _injected = new(StringComparer.Ordinal);

    private volatile bool _enabled;

    /// <summary>Whether faults are injected.</summary>
    public bool Enabled
    {
        get => _enabled;
        set => _enabled = value;
    }

    /// <summary>The share of requests that get a fault.</summary>
    public double Rate => rate;

    /// <summary>Faults injected, by kind.</summary>
    public IReadOnlyDictionary<string, int> Injected => _injected.ToDictionary(k => k.Key, k => k.Value);

    /// <summary>Middleware: maybe answers with a fault instead of the endpoint, or delays it.</summary>
    public async Task ApplyAsync(HttpContext context, RequestDelegate next)
    {
        double roll, delayRoll;
        lock (_random)
        {
            roll = _random.NextDouble();
            delayRoll = _random.NextDouble();
        }

        if (!Enabled || roll >= rate)
        {
            await next(context);
            return;
        }

        var share = roll / rate;
        switch (share)
        {
            case < 0.25:
                Count("503");
                await Problem(context, 503, "Service temporarily unavailable");
                return;
            case < 0.45:
                Count("500");
                await Problem(context, 500, "Internal error");
                return;
            case < 0.65:
                Count("reset");
                await DemoOrigin.ResetAsync(context);
                return;
            default:
                Count("slow");
                await Task.Delay(TimeSpan.FromMilliseconds(300 + delayRoll * 900), context.RequestAborted);
                await next(context);
                return;
        }
    }

    /// <summary>Writes an RFC 9457 problem answer.</summary>
    public static Task Problem(HttpContext context, int status, string title, string? detail = null) =>
        Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);

    private void Count(string kind) => _injected.AddOrUpdate(kind, 1, (_, n) => n + 1);
}
