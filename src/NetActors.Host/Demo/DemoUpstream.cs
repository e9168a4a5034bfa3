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
/// The demo's upstream API: Kestrel on 127.0.0.1 on a free port, in this process. It counts the requests it
/// has in progress so the summary can show the highest concurrency it ever saw.
/// </summary>
public sealed class DemoUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _current;
    private int _max;
    private int _total;

    private DemoUpstream(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The upstream's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The highest number of requests in progress at once.</summary>
    public int MaxConcurrent => Volatile.Read(ref _max);

    /// <summary>Requests received.</summary>
    public int Total => Volatile.Read(ref _total);

    /// <summary>Starts the upstream.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<DemoUpstream> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var upstream = new DemoUpstream(app);
        app.Use(upstream.CountAsync);
        app.MapGet("/api/items/{id:int}", async (int id, CancellationToken ct) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(15 + (id % 4) * 5), ct);
            return id % 25 == 24
                ? Results.Problem(statusCode: 404, title: "No such item", detail: $"Item {id} does not exist.")
                : Results.Json(new { id, name = $"item-{id}" });
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseAddress = new Uri(address + "/");
        return upstream;
    }

    private async Task CountAsync(HttpContext context, RequestDelegate next)
    {
        Interlocked.Increment(ref _total);
        var now = Interlocked.Increment(ref _current);
        int seen;
        while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
        {
        }

        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref _current);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
