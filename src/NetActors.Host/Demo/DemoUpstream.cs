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
    private readonly object _tokens = new();
    private readonly HashSet<string> _liveAccess = [];
    private string _refreshToken = string.Empty;
    private int _issued;
    private int _current;
    private int _max;
    private int _total;
    private int _refreshCalls;
    private int _unauthorized;

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

    /// <summary>Calls to the refresh endpoint.</summary>
    public int RefreshCalls => Volatile.Read(ref _refreshCalls);

    /// <summary>Requests answered 401.</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>
    /// A session as a login would hand it out, whose access token the upstream has already expired and whose
    /// expiry the client does not know: the seed article's situation at service start.
    /// </summary>
    public NetActors.Auth.TokenSet ExpiredSession()
    {
        lock (_tokens)
        {
            _refreshToken = "refresh-" + Guid.NewGuid().ToString("N");
            return new NetActors.Auth.TokenSet("expired-" + Guid.NewGuid().ToString("N"), _refreshToken);
        }
    }

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
        app.MapPost("/auth/refresh", (Delegate)upstream.RefreshAsync);
        app.MapGet("/api/items/{id:int}", async (int id, HttpContext context, CancellationToken ct) =>
        {
            if (!upstream.IsAuthorized(context))
            {
                Interlocked.Increment(ref upstream._unauthorized);
                return Results.Unauthorized();
            }

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

    private bool IsAuthorized(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        lock (_tokens)
        {
            return header.StartsWith("Bearer ", StringComparison.Ordinal) && _liveAccess.Contains(header[7..]);
        }
    }

    /// <summary>Rotating refresh tokens: a used refresh token is rejected with invalid_grant.</summary>
    private async Task<IResult> RefreshAsync(HttpContext context)
    {
        Interlocked.Increment(ref _refreshCalls);
        using var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
        var presented = body.RootElement.TryGetProperty("refresh_token", out var value) ? value.GetString() : null;
        lock (_tokens)
        {
            if (presented is null || presented != _refreshToken)
            {
                return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
            }

            var n = ++_issued;
            var access = $"access-{n}-{Guid.NewGuid():N}";
            _liveAccess.Add(access);
            _refreshToken = $"refresh-{n}-{Guid.NewGuid():N}";
            return Results.Json(new { access_token = access, refresh_token = _refreshToken, expires_in = 300 });
        }
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
