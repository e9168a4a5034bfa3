using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Content;

public sealed class DownloadTests
{
    private static TestUpstream ServeFile(TestUpstream upstream, string path, string file, Gate? holdAfterFirstMiB = null, bool resetAfterFirstMiB = false) =>
        upstream.Map(path, async ctx =>
        {
            var bytes = await File.ReadAllBytesAsync(file);
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.ContentLength = bytes.Length;
            await ctx.Response.Body.WriteAsync(bytes.AsMemory(0, 1 << 20));
            await ctx.Response.Body.FlushAsync();
            if (resetAfterFirstMiB)
            {
                ctx.Abort();
                return;
            }

            if (holdAfterFirstMiB is not null)
            {
                TestUpstream.StopCounting(ctx);
                await holdAfterFirstMiB.PassAsync(ctx);
            }

            await ctx.Response.Body.WriteAsync(bytes.AsMemory(1 << 20));
        });

    private static string[] Leftovers(TransferFiles files) =>
        Directory.GetFiles(files.Directory, "*.part", new EnumerationOptions { AttributesToSkip = 0 });

    [Fact]
    public async Task A_complete_download_matches_the_hash_and_progress_reaches_the_total()
    {
        using var files = new TransferFiles();
        var source = files.Create("source.bin", 8, 11);
        await using var upstream = await TestUpstream.StartAsync();
        ServeFile(upstream, "/files/report", source);
        await using var net = await NetHost.StartAsync(upstream);
        var reports = new List<TransferProgress>();

        var result = await net.Client.DownloadAsync(NetRequest.Get("api", "/files/report"), files.PathOf("report.bin"),
            new InlineProgress<TransferProgress>(reports.Add));

        Assert.Equal(files.PathOf("report.bin"), result.Path);
        Assert.Equal(8L << 20, result.Length);
        Assert.Equal(TransferFiles.Sha256(source), TransferFiles.Sha256(result.Path));
        Assert.Equal(new TransferProgress(8L << 20, 8L << 20, 1), reports[^1]);
        Assert.True(reports.Count > 10);
        Assert.Empty(Leftovers(files));
    }

    [Fact]
    public async Task A_download_cancelled_half_way_leaves_no_file_at_the_target_path()
    {
        using var files = new TransferFiles();
        var source = files.Create("source.bin", 4, 12);
        var gate = new Gate();
        await using var upstream = await TestUpstream.StartAsync();
        ServeFile(upstream, "/files/big", source, holdAfterFirstMiB: gate);
        await using var net = await NetHost.StartAsync(upstream);
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress<TransferProgress>(p =>
        {
            if (p.Bytes >= 512 * 1024)
            {
                cts.Cancel();
            }
        });

        try
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                net.Client.DownloadAsync(NetRequest.Get("api", "/files/big"), files.PathOf("big.bin"), progress, cts.Token));
        }
        finally
        {
            gate.Open();
        }

        Assert.False(File.Exists(files.PathOf("big.bin")));
        await Eventually.Assert(() => Assert.Empty(Leftovers(files)));
    }

    [Fact]
    public async Task A_failed_download_leaves_the_existing_file_untouched()
    {
        using var files = new TransferFiles();
        var source = files.Create("source.bin", 4, 13);
        var target = files.PathOf("kept.bin");
        await File.WriteAllTextAsync(target, "the previous version");
        await using var upstream = await TestUpstream.StartAsync();
        ServeFile(upstream, "/files/broken", source, resetAfterFirstMiB: true);
        upstream.Respond("/files/gone", 404, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1));

        await Assert.ThrowsAsync<NetworkException>(() => net.Client.DownloadAsync(NetRequest.Get("api", "/files/broken"), target));
        await Assert.ThrowsAsync<NotFoundException>(() => net.Client.DownloadAsync(NetRequest.Get("api", "/files/gone"), target));
        await Assert.ThrowsAsync<NotFoundException>(() => net.Client.DownloadAsync(
            NetRequest.Get("api", "/files/gone") with { AllowErrorStatus = true }, target)); // an error page is never the file

        Assert.Equal("the previous version", await File.ReadAllTextAsync(target));
        await Eventually.Assert(() => Assert.Empty(Leftovers(files)));
    }

    [Fact]
    public async Task A_download_whose_file_cannot_be_written_fails_typed_once_and_does_not_count_against_the_origin()
    {
        using var files = new TransferFiles();
        var source = files.Create("source.bin", 1, 14);
        var doomed = Directory.CreateDirectory(Path.Combine(files.Directory, "doomed")).FullName;
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.Map("/files/held", async ctx =>
        {
            await gate.PassAsync(ctx); // before the headers: the runtime has not opened its file yet
            var bytes = await File.ReadAllBytesAsync(source);
            ctx.Response.ContentLength = bytes.Length;
            await ctx.Response.Body.WriteAsync(bytes);
        });
        upstream.Respond("/ok", 200, "{}");
        // A circuit that one counted failure would open.
        await using var net = await NetHost.StartAsync(upstream, c => c.WithCircuitBreaker(0.5, 1, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)));

        var download = net.Client.DownloadAsync(NetRequest.Get("api", "/files/held"), Path.Combine(doomed, "x.bin"));
        await gate.WaitForArrivalsAsync(1);
        Directory.Delete(doomed); // the disk's failure, not the connection's: the file cannot be created
        gate.Open();

        var error = await Assert.ThrowsAsync<DownloadWriteException>(() => download).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.IsAssignableFrom<IOException>(error.InnerException);
        Assert.Equal(1, gate.Arrived);                                   // not retried
        Assert.Equal(200, (int)(await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode); // circuit closed
    }

    [Fact]
    public async Task A_download_into_a_missing_directory_is_an_InvalidRequestException()
    {
        using var files = new TransferFiles();
        await using var upstream = await TestUpstream.StartAsync();
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() =>
            net.Client.DownloadAsync(NetRequest.Get("api", "/files/x"), Path.Combine(files.Directory, "no-such-dir", "x.bin")));

        Assert.Contains("no-such-dir", error.Message);
        Assert.Empty(upstream.Seen);
    }
}
