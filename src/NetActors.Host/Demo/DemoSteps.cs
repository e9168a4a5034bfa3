using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using NetActors.Configuration;
using NetActors.Features;
using NetActors.Host.Load;
using NetActors.Host.Workload;

namespace NetActors.Host.Demo;

/// <summary>The demo's client names: the API (bearer realm "demo"), the upload origin (same realm), the public origin.</summary>
internal static class DemoClients
{
    public const string Api = "demo";
    public const string Files = "files";
    public const string Public = "public";
}

/// <summary>
/// The operations of the demo's mixed workload, as application code would write them against the API, with the
/// runtime's data features: the public client's HTTP cache (reference data with ETag and max-age), pagination
/// (<c>PaginateAsync</c> by cursor and by <c>Link</c> header), multipart uploads with progress and the backend's
/// feature flags (<see cref="IFeatureFlags"/>, refreshed by the runtime). Every request goes through the
/// <see cref="RequestLedger"/>, pages and uploads included, so each one is checked for an outcome.
/// Checks that fail (an upload whose hash differs, a page out of order) are collected in <see cref="Problems"/>.
/// </summary>
internal sealed class DemoSteps
{
    private const int PageSize = 20;
    private readonly RequestLedger _net;
    private readonly Uri _publicBase;
    private readonly IFeatureFlags _flags;
    private readonly ConcurrentQueue<string> _problems = new();
    private long _cacheFresh;
    private long _cacheRevalidated;
    private long _cacheMisses;
    private long _pages;
    private long _listings;
    private long _uploadsVerified;
    private long _uploadedBytes;
    private long _flagChanges;
    private long _flagReads;
    private long _redirectsFollowed;

    public DemoSteps(RequestLedger net, Uri publicBase, IFeatureFlags flags)
    {
        _net = net;
        _publicBase = publicBase;
        _flags = flags;
        _flags.Changed += (_, _) => Interlocked.Increment(ref _flagChanges);
    }

    private sealed record Message(int Id, string Text);

    private sealed record UploadReply(List<UploadedFile> Files);

    private sealed record UploadedFile(string Field, string FileName, long Length, string Sha256);

    /// <summary>The steps with their weights.</summary>
    public IReadOnlyList<LoadStep> All =>
    [
        new("get item", 30, GetItemAsync),
        new("update item", 8, UpdateItemAsync),
        new("place order", 6, PlaceOrderAsync),
        new("search", 5, SearchAsync),
        new("list messages", 5, ListMessagesAsync),
        new("reference data", 20, ReferenceDataAsync),
        new("feature flags", 5, FeatureFlagsAsync),
        new("upload", 4, UploadAsync),
        new("export", 4, ExportAsync),
    ];

    /// <summary>Checks that failed, in words (must stay empty).</summary>
    public IReadOnlyList<string> Problems => _problems.ToArray();

    /// <summary>Reference-data reads the client's cache answered: fresh, or revalidated with 304.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheFresh) + Interlocked.Read(ref _cacheRevalidated);

    /// <summary>Reference-data reads served fresh (no request at all).</summary>
    public long CacheFresh => Interlocked.Read(ref _cacheFresh);

    /// <summary>Reference-data reads revalidated with a 304.</summary>
    public long CacheRevalidated => Interlocked.Read(ref _cacheRevalidated);

    /// <summary>Reference-data reads that needed the body.</summary>
    public long CacheMisses => Interlocked.Read(ref _cacheMisses);

    /// <summary>Pages read, and complete listings (every message once, in order).</summary>
    public (long Pages, long Listings) Paging => (Interlocked.Read(ref _pages), Interlocked.Read(ref _listings));

    /// <summary>Uploads whose hash the upstream confirmed.</summary>
    public long UploadsVerified => Interlocked.Read(ref _uploadsVerified);

    /// <summary>Bytes the upload progress reported as sent, every attempt included.</summary>
    public long UploadedBytes => Interlocked.Read(ref _uploadedBytes);

    /// <summary>Flag reads by the workload (from memory; the runtime fetches the flags on its interval).</summary>
    public long FlagReads => Interlocked.Read(ref _flagReads);

    /// <summary>Flag changes seen.</summary>
    public long FlagChanges => Interlocked.Read(ref _flagChanges);

    /// <summary>Exports fetched through a cross-origin redirect.</summary>
    public long RedirectsFollowed => Interlocked.Read(ref _redirectsFollowed);

    private Task GetItemAsync(LoadOp op, CancellationToken ct) =>
        _net.SendAsync(NetRequest.Get(DemoClients.Api, $"api/items/{op.Random.Next(200)}"), ct);

    private Task UpdateItemAsync(LoadOp op, CancellationToken ct)
    {
        var id = op.Random.Next(200);
        return _net.SendAsync(NetRequest.Put(DemoClients.Api, $"api/items/{id}",
            NetContent.Json(new { name = $"item-{id}", price = 100 + op.Random.Next(50) })), ct);
    }

    // No idempotency key: the runtime must send it at most once, whatever fails.
    private Task PlaceOrderAsync(LoadOp op, CancellationToken ct) =>
        _net.SendAsync(NetRequest.Post(DemoClients.Api, "api/orders",
            NetContent.Json(new { orderId = $"order-{op.Sequence}", itemId = op.Random.Next(200), quantity = 1 + op.Random.Next(3) })), ct);

    private Task SearchAsync(LoadOp op, CancellationToken ct) =>
        _net.SendAsync(NetRequest.Get(DemoClients.Api, $"api/search?q=term{op.Random.Next(20)}"), ct);

    /// <summary>All messages through <c>PaginateAsync</c>: odd operations follow the Link header, even ones the JSON cursor.</summary>
    private async Task ListMessagesAsync(LoadOp op, CancellationToken ct)
    {
        var paging = op.Sequence % 2 == 1 ? NetActors.Paging.LinkHeader("items") : NetActors.Paging.Cursor("items", "next", "hasMore", "cursor");
        var last = 0;
        await foreach (var message in _net.PaginateAsync<Message>(NetRequest.Get(DemoClients.Api, $"api/messages?limit={PageSize}"), paging, ct))
        {
            if (message.Id != last + 1)
            {
                _problems.Enqueue($"listing {op.Sequence}: message {message.Id} came after {last}.");
                return;
            }

            if (message.Id % PageSize == 1)
            {
                Interlocked.Increment(ref _pages);
            }

            last = message.Id;
        }

        if (last != DemoUpstream.MessageCount)
        {
            _problems.Enqueue($"listing {op.Sequence}: ended at message {last} of {DemoUpstream.MessageCount}.");
            return;
        }

        Interlocked.Increment(ref _listings);
    }

    /// <summary>Reference data through the public client's HTTP cache (max-age, then If-None-Match and 304).</summary>
    private async Task ReferenceDataAsync(LoadOp op, CancellationToken ct)
    {
        var response = await _net.SendAsync(NetRequest.Get(DemoClients.Public, "ref/countries"), ct);
        if (!response.FromCache)
        {
            Interlocked.Increment(ref _cacheMisses);
        }
        else
        {
            Interlocked.Increment(ref response.Attempts == 0 ? ref _cacheFresh : ref _cacheRevalidated);
        }

        using var body = JsonDocument.Parse(response.Body);
        if (body.RootElement.GetProperty("countries").GetArrayLength() == 0)
        {
            _problems.Enqueue("reference data came without countries.");
        }
    }

    /// <summary>Feature flags, read as application code reads them: from memory, typed, with defaults.</summary>
    private Task FeatureFlagsAsync(LoadOp op, CancellationToken ct)
    {
        _ = _flags.IsEnabled("newCheckout");
        _ = _flags.Get("maxItemsPerOrder", 10);
        Interlocked.Increment(ref _flagReads);
        return Task.CompletedTask;
    }

    /// <summary>An upload with an idempotency key (so it may be retried); the upstream's hash must match ours.</summary>
    private async Task UploadAsync(LoadOp op, CancellationToken ct)
    {
        var bytes = new byte[8 * 1024 + op.Random.Next(56 * 1024)];
        op.Random.NextBytes(bytes);
        var expected = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var body = NetContent.Multipart(m => m
            .Field("title", $"report {op.Sequence}")
            .Stream("file", () => new MemoryStream(bytes, writable: false), $"report-{op.Sequence}.bin", bytes.Length));
        var sent = 0L;
        var request = NetRequest.Post(DemoClients.Files, "upload", body)
            .WithIdempotencyKey(RequestTemplate.Uuid(op.Random).ToString())
            .WithUploadProgress(new Progress(p => Interlocked.Add(ref _uploadedBytes, p.Bytes - Interlocked.Exchange(ref sent, p.Bytes))));
        var reply = (await _net.SendAsync(request, ct)).ReadJson<UploadReply>();
        if (reply.Files is not [var file] || file.Field != "file" || file.Sha256 != expected || file.Length != bytes.Length)
        {
            _problems.Enqueue($"upload {op.Sequence}: the upstream received other bytes than were sent.");
            return;
        }

        Interlocked.Increment(ref _uploadsVerified);
    }

    /// <summary>An IProgress that runs on the reporting thread (the demo only adds numbers).</summary>
    private sealed class Progress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    /// <summary>The export is a 302 to the public origin: the runtime follows it without the bearer token.</summary>
    private async Task ExportAsync(LoadOp op, CancellationToken ct)
    {
        var response = await _net.SendAsync(NetRequest.Get(DemoClients.Api, "api/exports/latest"), ct);
        if (Origins.KeyOf(response.Uri) != Origins.KeyOf(_publicBase))
        {
            _problems.Enqueue($"export {op.Sequence}: ended at {Origins.KeyOf(response.Uri)}, not at the public origin.");
            return;
        }

        Interlocked.Increment(ref _redirectsFollowed);
    }
}
