using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NetActors.Tests.Infrastructure;

/// <summary>What the upstream saw of one request.</summary>
public sealed record SeenRequest(int Order, string Method, string Path, string Query,
    IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// A real HTTP server on 127.0.0.1 (a free port) whose behaviour each test scripts per path, and which counts
/// what it saw: every request, and the most requests it ever had in progress at once.
/// </summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<SeenRequest> _seen = new();
    private int _current;
    private int _max;
    private int _order;

    private TestUpstream(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The base address, for example <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The origin of <see cref="BaseAddress"/> as text, without trailing slash.</summary>
    public string Origin => BaseAddress.GetLeftPart(UriPartial.Authority);

    /// <summary>The most requests in progress at once, ever (a request ends with its handler or its connection).</summary>
    public int MaxConcurrent => Volatile.Read(ref _max);

    /// <summary>Requests in progress now.</summary>
    public int Current => Volatile.Read(ref _current);

    /// <summary>Every request seen, in arrival order.</summary>
    public IReadOnlyList<SeenRequest> Seen => _seen.ToArray();

    /// <summary>How many requests reached <paramref name="path"/>.</summary>
    public int Count(string path) => _seen.Count(r => r.Path == path);

    /// <summary>Every base address, one per port (see <see cref="StartAsync(int)"/>); the first is <see cref="BaseAddress"/>.</summary>
    public IReadOnlyList<Uri> BaseAddresses { get; private set; } = [];

    public static Task<TestUpstream> StartAsync() => StartAsync(ports: 1);

    /// <summary>One server listening on <paramref name="ports"/> free ports of 127.0.0.1: as many origins, one behaviour.</summary>
    public static async Task<TestUpstream> StartAsync(int ports)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            for (var i = 0; i < ports; i++)
            {
                o.Listen(IPAddress.Loopback, 0);
            }

            o.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var upstream = new TestUpstream(app);
        app.Run(upstream.HandleAsync);
        await app.StartAsync();
        upstream.BaseAddresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(address => new Uri(address.Replace("[::]", "127.0.0.1") + "/"))
            .ToList();
        upstream.BaseAddress = upstream.BaseAddresses[0];
        return upstream;
    }

    /// <summary>Scripts the behaviour of <paramref name="path"/> (exact match; "/prefix/*" for a prefix; "*" for any other path).</summary>
    public TestUpstream Map(string path, Func<HttpContext, Task> handler)
    {
        _routes[path] = handler;
        return this;
    }

    /// <summary>Holds requests to <paramref name="path"/> at <paramref name="gate"/>, then answers 200 with <paramref name="body"/>.</summary>
    public TestUpstream MapGated(string path, Gate gate, string body = "{}") =>
        Map(path, async ctx =>
        {
            await gate.PassAsync(ctx);
            await Write(ctx, 200, body);
        });

    /// <summary>Scripts a fixed answer for <paramref name="path"/>.</summary>
    public TestUpstream Respond(string path, int status, string? body = null, string contentType = "application/json") =>
        Map(path, ctx => Write(ctx, status, body, contentType));

    public static async Task Write(HttpContext ctx, int status, string? body, string contentType = "application/json")
    {
        ctx.Response.StatusCode = status;
        if (body is not null)
        {
            ctx.Response.ContentType = contentType;
            await ctx.Response.WriteAsync(body);
        }
    }

    /// <summary>Drops the connection without answering (a reset, from the client's side).</summary>
    private const string StopCountingKey = "netactors-test-stop-counting";

    /// <summary>
    /// Stops counting this request as in progress: for a request the test makes hang on purpose so the client
    /// abandons it. (The client frees the slot when it closes the connection; the server notices that later.)
    /// </summary>
    public static void StopCounting(HttpContext ctx) => ((Action)ctx.Items[StopCountingKey]!)();

    public static Task Abort(HttpContext ctx)
    {
        ctx.Abort();
        return Task.CompletedTask;
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var now = Interlocked.Increment(ref _current);
        int seenMax;
        while (now > (seenMax = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seenMax) != seenMax)
        {
        }

        // A request is in progress until its handler ends or its client closes the connection, whichever is
        // first: a request the client abandoned (timeout, cancellation) is no longer on the wire.
        var ended = 0;
        void End()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0)
            {
                Interlocked.Decrement(ref _current);
            }
        }

        using var onAbort = ctx.RequestAborted.Register(End);
        ctx.Items[StopCountingKey] = (Action)End;
        try
        {
            byte[] body = [];
            if (ctx.Request.ContentLength is > 0 and < 1024 * 1024)
            {
                ctx.Request.EnableBuffering();
                using var ms = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(ms);
                body = ms.ToArray();
                ctx.Request.Body.Position = 0;
            }

            var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            _seen.Enqueue(new SeenRequest(Interlocked.Increment(ref _order), ctx.Request.Method, ctx.Request.Path.Value ?? "",
                ctx.Request.QueryString.Value ?? "", headers, body));

            var path = ctx.Request.Path.Value ?? "";
            if (_routes.TryGetValue(path, out var handler) || TryPrefix(path, out handler) || _routes.TryGetValue("*", out handler))
            {
                await handler(ctx);
            }
            else
            {
                ctx.Response.StatusCode = 404;
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        finally
        {
            End();
        }
    }

    private bool TryPrefix(string path, out Func<HttpContext, Task> handler)
    {
        foreach (var (key, value) in _routes)
        {
            if (key.EndsWith("/*", StringComparison.Ordinal) && path.StartsWith(key[..^1], StringComparison.Ordinal))
            {
                handler = value;
                return true;
            }
        }

        handler = null!;
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A gate that holds requests until the test opens it, and tells the test when they arrive.</summary>
public sealed class Gate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _lock = new();
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private int _arrived;

    public int Arrived
    {
        get
        {
            lock (_lock)
            {
                return _arrived;
            }
        }
    }

    public void Open() => _open.TrySetResult();

    /// <summary>Holds the request (on the server) until the gate opens or the client goes away.</summary>
    public async Task PassAsync(HttpContext ctx)
    {
        lock (_lock)
        {
            _arrived++;
            foreach (var w in _waiters.Where(w => w.Count <= _arrived).ToList())
            {
                w.Signal.TrySetResult();
                _waiters.Remove(w);
            }
        }

        await _open.Task.WaitAsync(ctx.RequestAborted);
    }

    /// <summary>Completes when at least <paramref name="count"/> requests have reached the gate.</summary>
    public Task WaitForArrivalsAsync(int count, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_arrived >= count)
            {
                return Task.CompletedTask;
            }

            _waiters.Add((count, signal));
        }

        return signal.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(15));
    }
}
