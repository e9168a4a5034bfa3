using System.IO.Compression;
using NetActors.Errors;
using NetActors.Tests.Content;

namespace NetActors.Tests.Hosts;

/// <summary>
/// A gzip body that stops before its trailer (the HTTP message complete, the gzip member not) fails typed on every
/// path, buffered, streamed and downloaded, where .NET's GZipStream alone ends it early without a word; complete
/// bodies of one member or several, and an empty one, still decode. Over Kestrel.
/// </summary>
public sealed class GzipEndCheckTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    private static byte[] Payload(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(data);
        }

        return ms.ToArray();
    }

    private static async Task<TestUpstream> ServingAsync(byte[] encoded)
    {
        var upstream = await TestUpstream.StartAsync();
        upstream.Map("/f", async ctx =>
        {
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.Headers.ContentEncoding = "gzip";
            ctx.Response.ContentLength = encoded.Length;
            await ctx.Response.Body.WriteAsync(encoded);
        });
        return upstream;
    }

    [Fact]
    public async Task A_buffered_response_whose_gzip_body_is_cut_short_fails_as_a_format_problem()
    {
        var gz = Gzip(Payload(64 * 1024, 8));
        await using var upstream = await ServingAsync(gz[..(gz.Length / 2)]);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1));

        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/f")).AsTask().WaitAsync(Safety);

        var error = Assert.IsType<ResponseFormatException>(outcome.Error);
        Assert.Contains("cut short", error.Message);
    }

    [Fact]
    public async Task A_streamed_response_whose_gzip_body_is_cut_short_fails_its_read()
    {
        var gz = Gzip(Payload(256 * 1024, 15));
        await using var upstream = await ServingAsync(gz[..(gz.Length / 2)]);
        await using var net = await NetHost.StartAsync(upstream);
        await using var response = await net.Client.SendStreamAsync(NetRequest.Get("api", "/f"));
        using var copy = new MemoryStream();

        var error = await Record.ExceptionAsync(() => response.Body.CopyToAsync(copy));

        Assert.True(error is ResponseFormatException || error?.InnerException is ResponseFormatException, error?.ToString() ?? $"ended after {copy.Length} bytes");
    }

    [Fact]
    public async Task A_download_whose_gzip_body_is_cut_short_fails_and_leaves_no_file()
    {
        using var files = new TransferFiles();
        var gz = Gzip(Payload(512 * 1024, 7));
        await using var upstream = await ServingAsync(gz[..(gz.Length / 2)]);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxAttempts(1));
        var target = files.PathOf("f.bin");

        var error = await Record.ExceptionAsync(() => net.Client.DownloadAsync(NetRequest.Get("api", "/f"), target).WaitAsync(Safety));

        Assert.IsAssignableFrom<NetException>(error);
        Assert.False(File.Exists(target));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Complete_gzip_bodies_of_one_member_or_several_still_decode_whole(int members)
    {
        var parts = Enumerable.Range(0, members).Select(i => Payload(40_000 + i * 1_000, 20 + i)).ToArray();
        var encoded = parts.SelectMany(Gzip).ToArray(); // RFC 1952: members concatenated
        await using var upstream = await ServingAsync(encoded);
        await using var net = await NetHost.StartAsync(upstream);

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/f")).WaitAsync(Safety);

        Assert.Equal(parts.SelectMany(p => p).ToArray(), response.Body.ToArray());
    }

    [Fact]
    public async Task An_empty_body_that_says_gzip_is_left_to_the_decoder()
    {
        await using var upstream = await ServingAsync([]);
        await using var net = await NetHost.StartAsync(upstream);

        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/f")).AsTask().WaitAsync(Safety);

        Assert.True(outcome.Error is null or ResponseFormatException, outcome.Error?.ToString());
        Assert.True(outcome.Response is null || outcome.Response.Body.IsEmpty);
    }
}
