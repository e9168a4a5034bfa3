using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using NetActors.Errors;

namespace NetActors.Tests.Content;

public sealed record ReceivedPart(string Field, string? FileName, string Sha256, long Length, string? Text);

[Collection(TimingCollection.Name)] // measures the process's managed heap: nothing else may run meanwhile
public sealed class UploadTests
{
    /// <summary>Reads a multipart body section by section, hashing files as they stream in (never buffering them).</summary>
    private static async Task<List<ReceivedPart>> ReadMultipartAsync(HttpContext ctx)
    {
        var boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(ctx.Request.ContentType).Boundary).Value!;
        var reader = new MultipartReader(boundary, ctx.Request.Body) { BodyLengthLimit = null };
        var parts = new List<ReceivedPart>();
        var buffer = new byte[64 * 1024];
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            var disposition = ContentDispositionHeaderValue.Parse(section.ContentDisposition);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var text = new MemoryStream();
            long length = 0;
            int read;
            while ((read = await section.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                length += read;
                if (disposition.FileName.Value is null)
                {
                    text.Write(buffer, 0, read);
                }
            }

            parts.Add(new ReceivedPart(disposition.Name.Value!, disposition.FileName.Value, Convert.ToHexString(hash.GetHashAndReset()),
                length, disposition.FileName.Value is null ? System.Text.Encoding.UTF8.GetString(text.ToArray()) : null));
        }

        return parts;
    }

    [Fact]
    public async Task Three_50MB_files_in_two_fields_stream_with_a_small_heap_and_a_503_retry_sends_identical_bytes()
    {
        using var files = new TransferFiles();
        var photos = new[] { files.Create("a.bin", 50, 1), files.Create("b.bin", 50, 2) };
        var scan = files.Create("scan.pdf", 50, 3);
        var received = new ConcurrentQueue<List<ReceivedPart>>();
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/uploads", async ctx =>
        {
            var parts = await ReadMultipartAsync(ctx);
            received.Enqueue(parts);
            await TestUpstream.Write(ctx, received.Count == 1 ? 503 : 201, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithRetryDelays(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(50))
            .WithResponseTimeout(TimeSpan.FromSeconds(60)).WithTotalTimeout(TimeSpan.FromSeconds(120)));

        var reports = new List<TransferProgress>();
        long peakHeap = 0;
        var progress = new InlineProgress<TransferProgress>(p =>
        {
            lock (reports)
            {
                reports.Add(p);
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: false));
            }
        });
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var body = NetContent.Multipart(m => m
            .Field("album", "holiday")
            .File("photos", photos[0], "application/octet-stream")
            .File("photos", photos[1], "application/octet-stream")
            .Field("note", "scanned")
            .File("documents", scan, "application/pdf"));

        var response = await net.Client.SendAsync(NetRequest.Post("api", "/uploads", body)
            .WithIdempotencyKey("upload-1").WithUploadProgress(progress));

        Assert.Equal(201, (int)response.StatusCode);
        Assert.Equal(2, response.Attempts);
        var attempts = received.ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.Equal(attempts[0], attempts[1]); // the retry sent identical bytes
        var expected = new[]
        {
            new ReceivedPart("album", null, TransferFiles.Sha256("holiday"u8), 7, "holiday"),
            new ReceivedPart("photos", "a.bin", TransferFiles.Sha256(photos[0]), 50L << 20, null),
            new ReceivedPart("photos", "b.bin", TransferFiles.Sha256(photos[1]), 50L << 20, null),
            new ReceivedPart("note", null, TransferFiles.Sha256("scanned"u8), 7, "scanned"),
            new ReceivedPart("documents", "scan.pdf", TransferFiles.Sha256(scan), 50L << 20, null),
        };
        Assert.Equal(expected, attempts[1]);

        // Progress: each attempt counts up to the body's total, which is the three files plus the multipart framing.
        var total = reports[^1].Total!.Value;
        Assert.InRange(total, 150L << 20, (150L << 20) + 4096);
        Assert.Equal(new TransferProgress(total, total, 2), reports[^1]);
        Assert.Contains(new TransferProgress(total, total, 1), reports);
        Assert.True(reports.Where(r => r.Attempt == 2).Select(r => r.Bytes).SequenceEqual(reports.Where(r => r.Attempt == 2).Select(r => r.Bytes).Order()));

        // The heap never held anything like a file: 150 MiB were sent twice with well under one file's worth in use.
        var growth = peakHeap - baseline;
        Assert.True(growth < 24L << 20, $"managed heap grew by {growth >> 20} MiB while sending 2 x 150 MiB");
    }

    [Fact]
    public async Task After_a_401_and_a_refresh_the_retry_sends_the_same_multipart_bytes()
    {
        using var files = new TransferFiles();
        var path = files.Create("report.bin", 2, 21);
        var extra = new byte[300_000];
        new Random(22).NextBytes(extra);
        var received = new ConcurrentQueue<List<ReceivedPart>>();
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.ProtectedHandler = async ctx =>
        {
            received.Enqueue(await ReadMultipartAsync(ctx));
            await TestUpstream.Write(ctx, 201, "{}");
        };
        await using var net = await Auth.AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false);
        var reports = new ConcurrentQueue<TransferProgress>();

        var response = await net.Client.SendAsync(NetRequest.Post("api", "/api/uploads", NetContent.Multipart(m => m
                .Field("title", "report")
                .File("file", path, "application/octet-stream")
                .Stream("extra", () => new MemoryStream(extra, writable: false), "extra.bin", extra.Length)))
            .WithUploadProgress(new InlineProgress<TransferProgress>(reports.Enqueue))
            .WithIdempotencyKey("upload-1")); // resent after the 401 only because it has a key

        Assert.Equal(201, (int)response.StatusCode);
        Assert.Equal(1, tokens.Unauthorized);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal([
            new ReceivedPart("title", null, TransferFiles.Sha256("report"u8), 6, "report"),
            new ReceivedPart("file", "report.bin", TransferFiles.Sha256(path), 2L << 20, null),
            new ReceivedPart("extra", "extra.bin", TransferFiles.Sha256(extra), extra.Length, null),
        ], Assert.Single(received));
        var last = reports.Last();
        Assert.Equal(2, last.Attempt);
        Assert.Equal(last.Total, last.Bytes);
    }

    [Fact]
    public async Task File_and_stream_bodies_are_reopened_for_every_attempt()
    {
        using var files = new TransferFiles();
        var path = files.Create("raw.bin", 2, 7);
        var bytes = File.ReadAllBytes(path);
        var hashes = new ConcurrentQueue<string>();
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/raw/*", async ctx =>
        {
            using var copy = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(copy);
            hashes.Enqueue(TransferFiles.Sha256(copy.ToArray()) + " " + ctx.Request.ContentType);
            var first = hashes.Count % 2 == 1;
            await TestUpstream.Write(ctx, first ? 503 : 200, "{}");
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)));
        var opened = 0;

        await net.Client.SendAsync(NetRequest.Put("api", "/raw/file", NetContent.File(path, "application/x-test")));
        await net.Client.SendAsync(NetRequest.Put("api", "/raw/stream", NetContent.Stream(() =>
        {
            Interlocked.Increment(ref opened);
            return new MemoryStream(bytes, writable: false);
        }, bytes.Length)));

        var expected = TransferFiles.Sha256(path);
        Assert.Equal([
            $"{expected} application/x-test", $"{expected} application/x-test",
            $"{expected} application/octet-stream", $"{expected} application/octet-stream",
        ], hashes.ToArray());
        Assert.Equal(2, opened);
    }

    [Fact]
    public async Task A_missing_file_is_an_InvalidRequestException_and_the_runtime_keeps_serving()
    {
        using var files = new TransferFiles();
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(
            NetRequest.Post("api", "/ok", NetContent.Multipart(m => m.File("f", files.PathOf("missing.bin"))))));

        Assert.Contains("missing.bin", error.Message);
        Assert.Throws<ArgumentException>(() => NetContent.File(files.PathOf("x.bin"), "not a media type"));
        Assert.Equal(0, upstream.Count("/ok"));
        Assert.Equal(200, (int)(await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
    }
}
