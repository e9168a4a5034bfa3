using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>Responses compressed by the upstream reach the caller decoded (the runtime decodes them itself).</summary>
public sealed class ContentDecodingTests
{
    private const string Json = "{\"countries\":[\"NL\",\"BE\",\"LU\"],\"note\":\"the same text, compressed on the wire\"}";

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("deflate")]
    public async Task An_encoded_body_is_decoded_and_its_headers_describe_the_decoded_body(string coding)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/ref", ctx => WriteEncoded(ctx, coding, Encoding.UTF8.GetBytes(Json)));
        await using var net = await NetHost.StartAsync(upstream);

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/ref"));

        Assert.Equal(Json, response.ReadAsString());
        Assert.Empty(response.ContentHeaders!.ContentEncoding);
        Assert.Null(response.ContentHeaders.ContentLength);
        Assert.Equal("application/json", response.ContentHeaders.ContentType?.MediaType);
        Assert.Equal("gzip, br", upstream.Seen.Single().Headers["Accept-Encoding"]);
    }

    [Fact]
    public async Task A_request_with_its_own_accept_encoding_keeps_it_and_an_unknown_coding_is_passed_through()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var raw = new byte[] { 1, 2, 3, 4 };
        upstream.Map("/raw", async ctx =>
        {
            ctx.Response.Headers.ContentEncoding = "x-custom";
            await ctx.Response.Body.WriteAsync(raw);
        });
        await using var net = await NetHost.StartAsync(upstream);

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/raw").WithHeader("Accept-Encoding", "x-custom"));

        Assert.Equal(raw, response.Body.ToArray());
        Assert.Equal(["x-custom"], response.ContentHeaders!.ContentEncoding);
        Assert.Equal("x-custom", upstream.Seen.Single().Headers["Accept-Encoding"]);
    }

    [Fact]
    public async Task The_size_limit_applies_to_the_decoded_body()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var expanding = new byte[1024 * 1024];   // 1 MiB of zeros: about 1 KB gzipped
        upstream.Map("/bomb", ctx => WriteEncoded(ctx, "gzip", expanding));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxResponseSize(64 * 1024));

        await Assert.ThrowsAsync<ResponseTooLargeException>(() => net.Client.SendAsync(NetRequest.Get("api", "/bomb")));
    }

    [Fact]
    public async Task A_head_response_that_declares_an_encoding_is_not_decoded()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/ref", ctx =>
        {
            ctx.Response.Headers.ContentEncoding = "gzip";
            return Task.CompletedTask;
        });
        await using var net = await NetHost.StartAsync(upstream);

        var response = await net.Client.SendAsync(NetRequest.Head("api", "/ref"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Body.IsEmpty);
        Assert.Equal(["gzip"], response.ContentHeaders!.ContentEncoding);
    }

    private static async Task WriteEncoded(HttpContext ctx, string coding, byte[] body)
    {
        using var buffer = new MemoryStream();
        await using (Stream encoder = coding switch
        {
            "gzip" => new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true),
            "br" => new BrotliStream(buffer, CompressionLevel.Fastest, leaveOpen: true),
            _ => new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            await encoder.WriteAsync(body);
        }

        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.ContentEncoding = coding;
        ctx.Response.ContentLength = buffer.Length;
        await ctx.Response.Body.WriteAsync(buffer.ToArray());
    }
}
