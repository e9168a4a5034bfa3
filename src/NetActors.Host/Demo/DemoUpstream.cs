using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using NetActors.Auth;

namespace NetActors.Host.Demo;

/// <summary>How the demo upstream behaves.</summary>
/// <param name="Seed">Seeds its faults and its feature flags.</param>
/// <param name="TokenLifetime">Access-token lifetime (a few seconds, so tokens expire during the run).</param>
/// <param name="FaultRate">Share of requests that get a 5xx, a reset or a slow answer once faults are on.</param>
/// <param name="SearchPerSecond">The search endpoint's rate limit; over it: 429 with Retry-After.</param>
internal sealed record DemoUpstreamOptions(int Seed, TimeSpan TokenLifetime, double FaultRate, int SearchPerSecond);

/// <summary>
/// The demo's upstream: an API that behaves like a real one, on three origins of its own in this process.
/// <list type="bullet">
/// <item><b>api</b> (bearer): <c>POST /auth/refresh</c> (rotating refresh tokens, JWT access tokens with
/// <c>exp</c>), <c>GET|PUT /api/items/{id}</c>, <c>POST /api/orders</c> (each order id must arrive once),
/// <c>GET /api/search</c> (rate-limited: 429 + Retry-After), <c>GET /api/messages</c> (cursor pages with
/// <c>{items, next, hasMore}</c> and an RFC 8288 <c>Link: rel="next"</c>), <c>GET /api/exports/latest</c>
/// (302 to the public origin).</item>
/// <item><b>files</b> (bearer, same realm): <c>POST /upload</c>, multipart/form-data or a raw body, answers the
/// SHA-256 of what it received.</item>
/// <item><b>public</b> (no auth; a bearer token arriving here is a leak): <c>GET /ref/countries</c> (ETag,
/// Cache-Control max-age), <c>GET /flags</c> (a JSON object of feature flags, ETag, no-cache),
/// <c>GET /exports/latest.json</c>.</item>
/// </list>
/// api and files fail now and then once <see cref="DemoChaos.Enabled"/> is set.
/// </summary>
internal sealed class DemoUpstream : IAsyncDisposable
{
    /// <summary>Messages in the paginated collection.</summary>
    public const int MessageCount = 100;
    private readonly DemoUpstreamOptions _options;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly long _started;
    private readonly HashSet<string> _orders = new(StringComparer.Ordinal);
    private readonly object _searchLock = new();
    private long _searchWindow = -1;
    private int _searchInWindow;
    private int _unauthorized;
    private int _rateLimited;
    private int _leakedTokens;
    private int _duplicateOrders;
    private int _uploads;
    private long _uploadedBytes;

    private DemoUpstream(DemoUpstreamOptions options)
    {
        _options = options;
        _started = _time.GetTimestamp();
        Tokens = new DemoTokens(options.TokenLifetime, _time);
        Chaos = new DemoChaos(options.Seed, options.FaultRate);
    }

    /// <summary>The API origin (bearer auth, token endpoint).</summary>
    public DemoOrigin Api { get; private set; } = null!;

    /// <summary>The upload origin (same auth realm).</summary>
    public DemoOrigin Files { get; private set; } = null!;

    /// <summary>The public origin (no auth).</summary>
    public DemoOrigin Public { get; private set; } = null!;

    /// <summary>All three origins.</summary>
    public IReadOnlyList<DemoOrigin> Origins => [Api, Files, Public];

    /// <summary>The identity provider.</summary>
    public DemoTokens Tokens { get; }

    /// <summary>The fault injector.</summary>
    public DemoChaos Chaos { get; }

    /// <summary>Requests answered 401.</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>Requests answered 429.</summary>
    public int RateLimited => Volatile.Read(ref _rateLimited);

    /// <summary>Feature-flag fetches received (the runtime's own requests, on its refresh interval).</summary>
    public int FlagFetches => Volatile.Read(ref _flagFetches);

    private int _flagFetches;

    /// <summary>Requests that reached the public origin carrying an Authorization header (must stay 0).</summary>
    public int LeakedTokens => Volatile.Read(ref _leakedTokens);

    /// <summary>Orders received with an order id already seen (must stay 0: a POST without key goes once).</summary>
    public int DuplicateOrders => Volatile.Read(ref _duplicateOrders);

    /// <summary>Orders received.</summary>
    public int Orders
    {
        get
        {
            lock (_orders)
            {
                return _orders.Count;
            }
        }
    }

    /// <summary>Uploads received, and their bytes.</summary>
    public (int Count, long Bytes) Uploads => (Volatile.Read(ref _uploads), Interlocked.Read(ref _uploadedBytes));

    /// <summary>Starts the three origins.</summary>
    public static async Task<DemoUpstream> StartAsync(DemoUpstreamOptions options, CancellationToken cancellationToken)
    {
        var upstream = new DemoUpstream(options);
        upstream.Public = await DemoOrigin.StartAsync("public", upstream.MapPublic, cancellationToken);
        upstream.Files = await DemoOrigin.StartAsync("files", upstream.MapFiles, cancellationToken);
        upstream.Api = await DemoOrigin.StartAsync("api", upstream.MapApi, cancellationToken);
        return upstream;
    }

    private TimeSpan Uptime => _time.GetElapsedTime(_started);

    private void MapApi(WebApplication app)
    {
        app.MapPost("/auth/refresh", (Delegate)RefreshAsync);
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/api"), branch => branch.Use(RequireBearerAsync).Use(Chaos.ApplyAsync));
        app.MapGet("/api/items/{id:int}", async (int id, CancellationToken ct) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5 + id % 5 * 5), ct);
            return id % 25 == 24
                ? Results.Problem(statusCode: 404, title: "No such item", detail: $"Item {id} does not exist.")
                : Results.Json(new { id, name = $"item-{id}", price = 100 + id % 17 });
        });
        app.MapPut("/api/items/{id:int}", async (int id, HttpContext context) =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            return Results.Json(new { id, updated = true, fields = body.RootElement.EnumerateObject().Count() });
        });
        app.MapPost("/api/orders", (Delegate)CreateOrderAsync);
        app.MapGet("/api/search", (HttpContext context) => Search(context));
        app.MapGet("/api/messages", (HttpContext context) => Messages(context));
        app.MapGet("/api/exports/latest", () => Results.Redirect(new Uri(Public.BaseAddress, "exports/latest.json").ToString()));
    }

    private void MapFiles(WebApplication app)
    {
        app.Use(RequireBearerAsync);
        app.Use(Chaos.ApplyAsync);
        app.MapPost("/upload", (Delegate)UploadAsync);
    }

    private void MapPublic(WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.Request.Headers.ContainsKey(HeaderNames.Authorization))
            {
                Interlocked.Increment(ref _leakedTokens);
            }

            return next(context);
        });
        app.MapGet("/ref/countries", (HttpContext context) =>
        {
            var version = (int)(Uptime.TotalSeconds / 10);
            return Conditional(context, $"\"countries-v{version}\"", "public, max-age=3", () => new
            {
                version,
                countries = new[] { ("DE", "Germany"), ("FR", "France"), ("JP", "Japan"), ("BR", "Brazil"), ("KE", "Kenya") }
                    .Select(c => new { code = c.Item1, name = c.Item2 }),
            });
        });
        app.MapGet("/flags", (HttpContext context) =>
        {
            Interlocked.Increment(ref _flagFetches);
            var version = (int)(Uptime.TotalSeconds / 7);
            var random = new Random(HashCode.Combine(_options.Seed, version));
            return Conditional(context, $"\"flags-v{version}\"", "no-cache", () => new Dictionary<string, object>
            {
                ["newCheckout"] = random.Next(2) == 1,
                ["searchV2"] = random.Next(2) == 1,
                ["darkMode"] = version % 2 == 1,
                ["uploadLimitMb"] = 10 * (1 + random.Next(5)),
            });
        });
        app.MapGet("/exports/latest.json", () => Results.Json(new { generatedAt = _time.GetUtcNow(), rows = 42 }));
    }

    private async Task RequireBearerAsync(HttpContext context, RequestDelegate next)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal) && Tokens.IsValid(header[7..]))
        {
            await next(context);
            return;
        }

        Interlocked.Increment(ref _unauthorized);
        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
    }

    private async Task<IResult> RefreshAsync(HttpContext context)
    {
        string? presented = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            presented = body.RootElement.TryGetProperty("refresh_token", out var value) ? value.GetString() : null;
        }
        catch (JsonException)
        {
            // Answered as invalid_request below.
        }

        if (presented is null)
        {
            return Results.Json(new { error = "invalid_request" }, statusCode: 400);
        }

        return Tokens.Refresh(presented) is { } issued
            ? Results.Json(new { access_token = issued.Access, token_type = "Bearer", expires_in = issued.ExpiresIn, refresh_token = issued.Refresh })
            : Results.Json(new { error = "invalid_grant", error_description = "refresh token unknown or already used" }, statusCode: 400);
    }

    private async Task<IResult> CreateOrderAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var id = body.RootElement.TryGetProperty("orderId", out var value) ? value.GetString() : null;
        if (string.IsNullOrEmpty(id))
        {
            return Results.Problem(statusCode: 422, title: "orderId is required");
        }

        lock (_orders)
        {
            if (!_orders.Add(id))
            {
                Interlocked.Increment(ref _duplicateOrders);
                return Results.Problem(statusCode: 409, title: "Duplicate order", detail: $"Order {id} was already placed.");
            }
        }

        return Results.Json(new { orderId = id, status = "accepted" }, statusCode: 201);
    }

    private IResult Search(HttpContext context)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_searchLock)
        {
            var window = now / 1000;
            if (window != _searchWindow)
            {
                _searchWindow = window;
                _searchInWindow = 0;
            }

            if (++_searchInWindow > _options.SearchPerSecond)
            {
                Interlocked.Increment(ref _rateLimited);
                context.Response.Headers.RetryAfter = "1";
                return Results.Problem(statusCode: 429, title: "Too many requests",
                    detail: $"At most {_options.SearchPerSecond} searches per second.");
            }
        }

        var q = context.Request.Query["q"].ToString();
        return Results.Json(new { q, hits = Enumerable.Range(1, 3).Select(i => new { id = i * 7 % 200, score = 1.0 / i }) });
    }

    private IResult Messages(HttpContext context)
    {
        var cursor = context.Request.Query["cursor"].ToString();
        var offset = 0;
        if (cursor.Length > 0 && !TryReadCursor(cursor, out offset))
        {
            return Results.Problem(statusCode: 400, title: "Invalid cursor");
        }

        var limit = int.TryParse(context.Request.Query["limit"], CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 50) : 20;
        var end = Math.Min(offset + limit, MessageCount);
        var hasMore = end < MessageCount;
        string? next = hasMore ? Base64Url.EncodeToString(Encoding.ASCII.GetBytes("o:" + end.ToString(CultureInfo.InvariantCulture))) : null;
        if (next is not null)
        {
            var url = $"{context.Request.Scheme}://{context.Request.Host}/api/messages?cursor={next}&limit={limit}";
            context.Response.Headers.Link = $"<{url}>; rel=\"next\"";
        }

        return Results.Json(new
        {
            items = Enumerable.Range(offset + 1, end - offset).Select(i => new { id = i, text = $"message {i}" }),
            next,
            hasMore,
            total = MessageCount,
        });
    }

    private static bool TryReadCursor(string cursor, out int offset)
    {
        offset = 0;
        try
        {
            var text = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cursor));
            return text.StartsWith("o:", StringComparison.Ordinal) &&
                   int.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out offset) &&
                   offset is >= 0 and < MessageCount;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static IResult Conditional(HttpContext context, string etag, string cacheControl, Func<object> body)
    {
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = cacheControl;
        if (context.Request.Headers.IfNoneMatch.ToString() == etag)
        {
            return Results.StatusCode(304);
        }

        return Results.Json(body());
    }

    private async Task<IResult> UploadAsync(HttpContext context)
    {
        var files = new List<object>();
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var boundary = context.Request.ContentType is { } type && MediaTypeHeaderValue.TryParse(type, out var media) &&
                       media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            ? HeaderUtilities.RemoveQuotes(media.Boundary).ToString()
            : null;
        if (boundary is null)
        {
            var name = context.Request.Headers["X-File-Name"].ToString();
            files.Add(await HashAsync(context.Request.Body, "file", name.Length > 0 ? name : "body", context.RequestAborted));
        }
        else
        {
            var reader = new MultipartReader(boundary, context.Request.Body);
            while (await reader.ReadNextSectionAsync(context.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    return Results.Problem(statusCode: 400, title: "A part has no Content-Disposition");
                }

                var field = HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
                if (disposition.IsFileDisposition())
                {
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileName.HasValue ? disposition.FileName : disposition.FileNameStar).ToString();
                    files.Add(await HashAsync(section.Body, field, fileName, context.RequestAborted));
                }
                else
                {
                    using var text = new StreamReader(section.Body, Encoding.UTF8);
                    fields[field] = await text.ReadToEndAsync(context.RequestAborted);
                }
            }
        }

        Interlocked.Increment(ref _uploads);
        return Results.Json(new { files, fields }, statusCode: 201);
    }

    /// <summary>Hashes a stream as it arrives (never buffered whole).</summary>
    private async Task<object> HashAsync(Stream body, string field, string fileName, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long length = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }

        Interlocked.Add(ref _uploadedBytes, length);
        return new { field, fileName, length, sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()) };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var origin in new[] { Api, Files, Public })
        {
            if (origin is not null)
            {
                await origin.DisposeAsync();
            }
        }
    }
}
