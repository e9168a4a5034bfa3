using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Tests.Hosts;

namespace NetActors.Tests.Host;

/// <summary>
/// The HttpClient handler streams: <see cref="HttpCompletionOption.ResponseHeadersRead"/> returns at the headers
/// with the body on the wire, holding the slot until it is read or disposed; the default option buffers it.
/// </summary>
public sealed class HttpClientHandlerStreamingTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ResponseHeadersRead_returns_at_the_headers_while_the_server_holds_the_body_and_the_slot_is_held_until_dispose()
    {
        await using var origin = await StartAsync();
        var http = Client(origin);

        var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "stream"), HttpCompletionOption.ResponseHeadersRead)
            .WaitAsync(Safety);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("yes", response.Headers.GetValues("X-Streamed").Single());
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.False(origin.ServerSawStreamEnd.IsCompleted); // the server still holds the body at its gate
        var body = await response.Content.ReadAsStreamAsync();
        var head = new byte[5];
        await body.ReadExactlyAsync(head).AsTask().WaitAsync(Safety);
        Assert.Equal("head-", Encoding.UTF8.GetString(head));
        Assert.Single(origin.Ledger.InFlight);

        response.Dispose();
        await origin.ServerSawStreamEnd.WaitAsync(Safety);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    [Fact]
    public async Task The_default_completion_option_buffers_the_whole_body_which_frees_the_slot()
    {
        await using var origin = await StartAsync();
        var http = Client(origin);
        origin.Gate.Open();

        var response = await http.GetAsync("stream").WaitAsync(Safety); // not disposed: reading to the end freed the slot

        Assert.Equal("head-tail", await response.Content.ReadAsStringAsync());
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("ok").WaitAsync(Safety)).StatusCode);
    }

    [Fact]
    public async Task A_body_past_the_per_request_limit_fails_its_read_with_an_io_exception_around_the_typed_error()
    {
        await using var origin = await StartAsync();
        var http = Client(origin);
        origin.Gate.Open();
        var request = new HttpRequestMessage(HttpMethod.Get, "stream");
        request.Options.Set(NetActorsHandler.MaxResponseBytes, 6);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Safety);
        var body = await response.Content.ReadAsStreamAsync();
        var error = await Assert.ThrowsAsync<HttpIOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Safety));

        Assert.IsType<ResponseTooLargeException>(error.InnerException);
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    [Theory]
    [InlineData(false, 1)] // registered to buffer: the two identical GETs share one call
    [InlineData(true, 2)]  // streamed (the default): never deduplicated
    public async Task A_handler_registered_to_buffer_deduplicates_identical_GETs_and_a_streaming_one_does_not(bool stream, int calls)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/gated", gate);
        upstream.Respond("/barrier", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)),
            services: s => s.AddHttpClient("typed").AddNetActorsHandler("api", streamResponses: stream));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("typed");
        http.BaseAddress = upstream.BaseAddress;

        var first = http.GetAsync("gated");
        await gate.WaitForArrivalsAsync(1);
        var second = http.GetAsync("gated");
        await http.GetAsync("barrier").WaitAsync(Safety); // the second request is with its host actor
        gate.Open();

        Assert.All(await Task.WhenAll(first, second).WaitAsync(Safety), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(calls, upstream.Count("/gated"));
    }

    [Fact]
    public async Task A_request_marked_Buffered_on_a_streaming_handler_gets_its_body_whole_and_frees_the_slot_at_once()
    {
        await using var origin = await StartAsync();
        var http = Client(origin);
        origin.Gate.Open();
        var request = new HttpRequestMessage(HttpMethod.Get, "stream");
        request.Options.Set(NetActorsHandler.Buffered, true);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Safety);

        // Whole before SendAsync returned, although the caller asked for the headers: the slot goes before any read.
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal("head-tail", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_request_message_disposed_while_its_redirect_is_answered_fails_and_frees_the_streamed_slot()
    {
        await using var origin = await StartAsync();
        origin.Upstream.Map("/moved", ctx =>
        {
            ctx.Response.Headers.Location = "/no-headers-yet";
            return TestUpstream.Write(ctx, 302, null);
        });
        var http = Client(origin);
        var request = new HttpRequestMessage(HttpMethod.Get, "moved");

        var sending = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await origin.Gate.WaitForArrivalsAsync(1);
        request.Dispose(); // the caller gives up on its message; the handler must not keep the slot for a body nobody owns
        origin.Gate.Open();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => sending.WaitAsync(Safety));
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("ok").WaitAsync(Safety)).StatusCode); // cap 1: the slot is free
    }

    private static Task<StreamOrigin> StartAsync() =>
        StreamOrigin.StartAsync(services: s => s.AddHttpClient("plain").AddNetActorsHandler("api"));

    private static HttpClient Client(StreamOrigin origin)
    {
        var http = origin.Net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");
        http.BaseAddress = origin.Upstream.BaseAddress;
        return http;
    }
}
