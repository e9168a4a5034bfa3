using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using NetActors.Configuration;
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
/// The operations of the demo's mixed workload, as application code would write them against the API.
/// <para>
/// This is the one place that calls the runtime for data features. Until the library has them, it uses the
/// existing API: the reference data is revalidated by hand with <c>If-None-Match</c> (to become a plain GET
/// with the client's HTTP cache and <c>NetResponse.FromCache</c>), pages are followed by hand through the cursor
/// or the <c>Link</c> header (to become <c>PaginateAsync</c> with <c>Paging.Cursor</c> / <c>Paging.LinkHeader</c>),
/// the upload is a raw <c>NetContent.Bytes</c> POST (to become <c>NetContent.Multipart</c> with progress) and the
/// flags are a GET (to become <c>IFeatureFlags</c>).
/// </para>
/// Checks that fail (an upload whose hash differs, a page out of order) are collected in <see cref="Problems"/>.
/// </summary>
internal sealed partial class DemoSteps(RequestLedger net, Uri publicBase)
{
    private const int PageSize = 20;
    private readonly object _flagsLock = new();
    private readonly ConcurrentQueue<string> _problems = new();
    private CachedEntry? _countries;
    private string? _flagsETag;
    private Dictionary<string, string>? _flags;
    private long _cacheFresh;
    private long _cacheRevalidated;
    private long _cacheMisses;
    private long _pages;
    private long _listings;
    private long _uploadsVerified;
    private long _flagChanges;
    private long _redirectsFollowed;

    private sealed record CachedEntry(string ETag, DateTimeOffset FreshUntil);

    private sealed record MessagePage(List<Message> Items, string? Next, bool HasMore, int Total);

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

    /// <summary>Reference-data reads served without a body from upstream: fresh, or revalidated with 304.</summary>
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

    /// <summary>Flag changes seen.</summary>
    public long FlagChanges => Interlocked.Read(ref _flagChanges);

    /// <summary>Exports fetched through a cross-origin redirect.</summary>
    public long RedirectsFollowed => Interlocked.Read(ref _redirectsFollowed);

    private Task GetItemAsync(LoadOp op, CancellationToken ct) =>
        net.SendAsync(NetRequest.Get(DemoClients.Api, $"api/items/{op.Random.Next(200)}"), ct);

    private Task UpdateItemAsync(LoadOp op, CancellationToken ct)
    {
        var id = op.Random.Next(200);
        return net.SendAsync(NetRequest.Put(DemoClients.Api, $"api/items/{id}",
            NetContent.Json(new { name = $"item-{id}", price = 100 + op.Random.Next(50) })), ct);
    }

    // No idempotency key: the runtime must send it at most once, whatever fails.
    private Task PlaceOrderAsync(LoadOp op, CancellationToken ct) =>
        net.SendAsync(NetRequest.Post(DemoClients.Api, "api/orders",
            NetContent.Json(new { orderId = $"order-{op.Sequence}", itemId = op.Random.Next(200), quantity = 1 + op.Random.Next(3) })), ct);

    private Task SearchAsync(LoadOp op, CancellationToken ct) =>
        net.SendAsync(NetRequest.Get(DemoClients.Api, $"api/search?q=term{op.Random.Next(20)}"), ct);

    /// <summary>All messages, page by page: odd operations follow the Link header, even ones the JSON cursor.</summary>
    private async Task ListMessagesAsync(LoadOp op, CancellationToken ct)
    {
        var byLink = op.Sequence % 2 == 1;
        string? url = $"api/messages?limit={PageSize}";
        var last = 0;
        var total = -1;
        while (url is not null)
        {
            var response = await net.SendAsync(NetRequest.Get(DemoClients.Api, url), ct);
            var page = response.ReadJson<MessagePage>();
            Interlocked.Increment(ref _pages);
            total = page.Total;
            foreach (var message in page.Items)
            {
                if (message.Id != last + 1)
                {
                    _problems.Enqueue($"listing {op.Sequence}: message {message.Id} came after {last}.");
                    return;
                }

                last = message.Id;
            }

            url = byLink
                ? NextLink(response)
                : page.HasMore ? $"api/messages?cursor={Uri.EscapeDataString(page.Next!)}&limit={PageSize}" : null;
        }

        if (last != total)
        {
            _problems.Enqueue($"listing {op.Sequence}: ended at message {last} of {total}.");
            return;
        }

        Interlocked.Increment(ref _listings);
    }

    [GeneratedRegex("<([^>]+)>\\s*;\\s*rel=\"?next\"?", RegexOptions.IgnoreCase)]
    private static partial Regex NextLinkPattern();

    private static string? NextLink(NetResponse response) =>
        response.Headers.TryGetValues("Link", out var links)
            ? links.Select(l => NextLinkPattern().Match(l)).FirstOrDefault(m => m.Success)?.Groups[1].Value
            : null;

    /// <summary>Reference data with a client cache by hand: fresh within max-age, then revalidated with If-None-Match.</summary>
    private async Task ReferenceDataAsync(LoadOp op, CancellationToken ct)
    {
        var cached = Volatile.Read(ref _countries);
        if (cached is not null && DateTimeOffset.UtcNow < cached.FreshUntil)
        {
            Interlocked.Increment(ref _cacheFresh);
            return;
        }

        var request = NetRequest.Get(DemoClients.Public, "ref/countries");
        if (cached is not null)
        {
            request = request.WithHeader("If-None-Match", cached.ETag);
        }

        var response = await net.SendAsync(request, ct);
        var maxAge = response.Headers.CacheControl?.MaxAge ?? TimeSpan.Zero;
        if (response.StatusCode == HttpStatusCode.NotModified && cached is not null)
        {
            Interlocked.Increment(ref _cacheRevalidated);
            Volatile.Write(ref _countries, cached with { FreshUntil = DateTimeOffset.UtcNow + maxAge });
            return;
        }

        Interlocked.Increment(ref _cacheMisses);
        using var body = JsonDocument.Parse(response.Body);
        if (body.RootElement.GetProperty("countries").GetArrayLength() == 0 || response.Headers.ETag is null)
        {
            _problems.Enqueue("reference data came without countries or without an ETag.");
            return;
        }

        Volatile.Write(ref _countries, new CachedEntry(response.Headers.ETag.Tag, DateTimeOffset.UtcNow + maxAge));
    }

    /// <summary>Feature flags: a JSON object, revalidated with If-None-Match; counts the changes seen.</summary>
    private async Task FeatureFlagsAsync(LoadOp op, CancellationToken ct)
    {
        string? etag;
        lock (_flagsLock)
        {
            etag = _flagsETag;
        }

        var request = NetRequest.Get(DemoClients.Public, "flags");
        var response = await net.SendAsync(etag is null ? request : request.WithHeader("If-None-Match", etag), ct);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            return;
        }

        var flags = response.ReadJson<Dictionary<string, JsonElement>>().ToDictionary(f => f.Key, f => f.Value.GetRawText());
        lock (_flagsLock)
        {
            if (_flags is not null && (flags.Count != _flags.Count || flags.Any(f => _flags.GetValueOrDefault(f.Key) != f.Value)))
            {
                Interlocked.Increment(ref _flagChanges);
            }

            _flags = flags;
            _flagsETag = response.Headers.ETag?.Tag;
        }
    }

    /// <summary>An upload with an idempotency key (so it may be retried); the upstream's hash must match ours.</summary>
    private async Task UploadAsync(LoadOp op, CancellationToken ct)
    {
        var bytes = new byte[8 * 1024 + op.Random.Next(56 * 1024)];
        op.Random.NextBytes(bytes);
        var expected = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var request = NetRequest.Post(DemoClients.Files, "upload", NetContent.Bytes(bytes))
            .WithHeader("X-File-Name", $"report-{op.Sequence}.bin")
            .WithIdempotencyKey(RequestTemplate.Uuid(op.Random).ToString());
        var reply = (await net.SendAsync(request, ct)).ReadJson<UploadReply>();
        if (reply.Files is not [var file] || file.Sha256 != expected || file.Length != bytes.Length)
        {
            _problems.Enqueue($"upload {op.Sequence}: the upstream received other bytes than were sent.");
            return;
        }

        Interlocked.Increment(ref _uploadsVerified);
    }

    /// <summary>The export is a 302 to the public origin: the runtime follows it without the bearer token.</summary>
    private async Task ExportAsync(LoadOp op, CancellationToken ct)
    {
        var response = await net.SendAsync(NetRequest.Get(DemoClients.Api, "api/exports/latest"), ct);
        if (Origins.KeyOf(response.Uri) != Origins.KeyOf(publicBase))
        {
            _problems.Enqueue($"export {op.Sequence}: ended at {Origins.KeyOf(response.Uri)}, not at the public origin.");
            return;
        }

        Interlocked.Increment(ref _redirectsFollowed);
    }
}
