using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Tests.Content;

namespace NetActors.Tests.Host;

public sealed class HttpClientHandlerTests
{
    /// <summary>A typed client as an application writes it: plain HttpClient code.</summary>
    public sealed class OrdersApi(HttpClient http)
    {
        public Task<HttpResponseMessage> GetAsync(int id, CancellationToken ct) => http.GetAsync($"api/orders/{id}", ct);

        public Task<HttpResponseMessage> MissingAsync(CancellationToken ct) => http.GetAsync("api/missing", ct);
    }

    [Fact]
    public async Task A_typed_httpclient_with_the_handler_gets_one_refresh_for_a_burst_and_the_cap_holds()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.ProtectedHandler = ctx => ctx.Request.Path == "/api/missing"
            ? TestUpstream.Write(ctx, 404, "{\"title\":\"no\"}", "application/problem+json")
            : TestUpstream.Write(ctx, 200, "{\"id\":1}");
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(6)
                .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))),
            services: s => s.AddHttpClient<OrdersApi>(h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: false));
        var api = net.Services.GetRequiredService<OrdersApi>();

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => api.GetAsync(i, CancellationToken.None)));
        var missing = await api.MissingAsync(CancellationToken.None);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, (await responses[0].Content.ReadFromJsonAsync<Dictionary<string, int>>())!["id"]);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.InRange(upstream.MaxConcurrent, 1, 6);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);   // HttpClient semantics: a status, not an exception
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.All(upstream.Seen.Where(s => s.Path.StartsWith("/api/")), s => Assert.StartsWith("Bearer ", s.Headers["Authorization"]));
    }

    [Fact]
    public async Task Failures_without_a_response_surface_as_httprequestexception_with_the_typed_error_inside()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reset", TestUpstream.Abort);
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("reset"));

        Assert.IsType<Errors.NetworkException>(error.InnerException);
    }

    private sealed record Order(string Sku, int Quantity, string Note);

    private static async Task<(TestUpstream Upstream, BodyRecorder Bodies, NetHost Net, HttpClient Http)> StartAsync(
        Action<ClientBuilder>? client = null, int failFirst = 0)
    {
        var upstream = await TestUpstream.StartAsync();
        var bodies = new BodyRecorder();
        upstream.Map("/in/*", failFirst > 0 ? bodies.FailingFirst(failFirst) : bodies.Ok);
        var net = await NetHost.StartAsync(
            n => n.AddClient("api", c =>
            {
                c.WithBaseAddress(upstream.BaseAddress).WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50));
                client?.Invoke(c);
            }),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        return (upstream, bodies, net, net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain"));
    }

    [Fact]
    public async Task Json_post_and_put_with_a_charset_reach_the_server_exactly_as_sent()
    {
        var (upstream, bodies, net, http) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        var order = new Order("A-1", 2, "café ☕");

        var post = await http.PostAsJsonAsync("in/orders", order);
        var put = await http.PutAsync("in/orders/1", new StringContent("{\"note\":\"ünïcode\"}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var (postBody, putBody) = (bodies.Bodies[0], bodies.Bodies[1]);
        Assert.Equal("application/json; charset=utf-8", postBody.ContentType);
        Assert.Equal(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(order, System.Text.Json.JsonSerializerOptions.Web), postBody.Bytes);
        Assert.Equal(("PUT", "application/json; charset=utf-8"), (putBody.Method, putBody.ContentType));
        Assert.Equal(Encoding.UTF8.GetBytes("{\"note\":\"ünïcode\"}"), putBody.Bytes);
    }

    /// <summary>A multipart body with a text field, a file from bytes and a file from disk, with a fixed boundary.</summary>
    private static MultipartFormDataContent Upload(string file, byte[] photo, Func<byte[], Stream>? wrap = null)
    {
        var content = new MultipartFormDataContent("netactors-test-boundary");
        content.Add(new StringContent("Quarterly report", Encoding.UTF8), "title");
        var image = new ByteArrayContent(photo);
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        content.Add(image, "photo", "photo.png");
        var fileBytes = File.ReadAllBytes(file);
        var stream = new StreamContent(wrap is null ? File.OpenRead(file) : wrap(fileBytes));
        stream.Headers.ContentType = new MediaTypeHeaderValue("text/csv") { CharSet = "utf-8" };
        content.Add(stream, "report", "report.csv");
        return content;
    }

    [Fact]
    public async Task Multipart_with_files_reaches_the_server_byte_for_byte_with_its_boundary()
    {
        var (upstream, bodies, net, http) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        using var files = new TransferFiles();
        var file = files.Create("report.csv", megabytes: 1, seed: 5);
        var photo = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray();
        var expected = await Upload(file, photo).ReadAsByteArrayAsync();

        var response = await http.PostAsync("in/upload", Upload(file, photo));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(bodies.Bodies);
        Assert.Equal("multipart/form-data; boundary=\"netactors-test-boundary\"", seen.ContentType);
        Assert.Equal(expected, seen.Bytes);
    }

    [Fact]
    public async Task Form_data_reaches_the_server_as_sent()
    {
        var (upstream, bodies, net, http) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        var fields = new Dictionary<string, string> { ["name"] = "Zoë & co", ["tags"] = "a+b c", ["empty"] = "" };

        var response = await http.PostAsync("in/form", new FormUrlEncodedContent(fields));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(bodies.Bodies);
        Assert.Equal("application/x-www-form-urlencoded", seen.ContentType);
        Assert.Equal(await new FormUrlEncodedContent(fields).ReadAsByteArrayAsync(), seen.Bytes);
    }

    [Fact]
    public async Task A_body_from_a_stream_that_cannot_seek_reaches_the_server_exactly()
    {
        var (upstream, bodies, net, http) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        var bytes = Enumerable.Range(0, 300_000).Select(i => (byte)(i % 251)).ToArray();
        var content = new StreamContent(new OneWayStream(bytes));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        var response = await http.PutAsync("in/blob", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(bodies.Bodies);
        Assert.Equal("application/octet-stream", seen.ContentType);
        Assert.Equal(bytes, seen.Bytes);
    }

    [Fact]
    public async Task A_retried_post_with_an_idempotency_key_resends_identical_bytes()
    {
        // Two 503s, then 200: three attempts of one multipart POST whose file part is a stream that cannot seek
        // (the runtime must keep its bytes) and whose other parts are written again per attempt.
        var (upstream, bodies, net, http) = await StartAsync(c => c.WithMaxAttempts(3), failFirst: 2);
        await using var _ = upstream;
        await using var __ = net;
        using var files = new TransferFiles();
        var file = files.Create("report.csv", megabytes: 1, seed: 6);
        var photo = Enumerable.Range(0, 20_000).Select(i => (byte)(i * 13)).ToArray();
        var expected = await Upload(file, photo).ReadAsByteArrayAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "in/upload") { Content = Upload(file, photo, b => new OneWayStream(b)) };
        request.Headers.Add("Idempotency-Key", "order-42");

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, bodies.Bodies.Count);
        Assert.All(bodies.Bodies, b =>
        {
            Assert.Equal("order-42", b.IdempotencyKey);
            Assert.Equal("multipart/form-data; boundary=\"netactors-test-boundary\"", b.ContentType);
            Assert.Equal(expected, b.Bytes);
        });
    }

    [Theory]
    [InlineData("X-Note", "line\r\nX-Injected: yes", false)]
    [InlineData("X-Note", "nul\0byte", false)]
    [InlineData("X-Note", "café", false)]
    [InlineData("Content-Language", "fr\r\nX-Injected: yes", true)]
    [InlineData("Content-Disposition", "attachment; filename=\"résumé.pdf\"", true)]
    public async Task Header_values_with_line_breaks_nul_or_non_ascii_are_refused_typed_and_nothing_is_sent(
        string name, string value, bool onContent)
    {
        var (upstream, bodies, net, http) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        using var request = new HttpRequestMessage(HttpMethod.Post, "in/headers") { Content = new StringContent("{}") };
        Assert.True(onContent
            ? request.Content.Headers.TryAddWithoutValidation(name, value)
            : request.Headers.TryAddWithoutValidation(name, value));

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.SendAsync(request));

        var invalid = Assert.IsType<InvalidRequestException>(error.InnerException);
        Assert.Contains(name, invalid.Message);
        Assert.DoesNotContain(value, invalid.Message);
        Assert.Empty(bodies.Bodies);
        Assert.Empty(upstream.Seen);
    }

    [Fact]
    public async Task Text_content_with_a_charset_in_its_media_type_is_sent_with_it()
    {
        var (upstream, bodies, net, _) = await StartAsync();
        await using var __ = upstream;
        await using var ___ = net;

        await net.Client.SendAsync(NetRequest.Post("api", "in/csv", NetContent.Text("id,name\n1,Zoë\n", "text/csv; charset=utf-8")));
        await net.Client.SendAsync(NetRequest.Post("api", "in/csv", NetContent.Text("id\n2\n", "text/csv; header=present")));

        Assert.Equal("text/csv; charset=utf-8", bodies.Bodies[0].ContentType);
        Assert.Equal(Encoding.UTF8.GetBytes("id,name\n1,Zoë\n"), bodies.Bodies[0].Bytes);
        Assert.Equal("text/csv; header=present; charset=utf-8", bodies.Bodies[1].ContentType);
        Assert.Throws<ArgumentException>(() => NetContent.Text("x", "text/csv; charset=latin1"));
    }
}

[Collection(TimingCollection.Name)]
public sealed class HttpClientHandlerTimeoutTests
{
    [Fact]
    public async Task A_response_timeout_reaches_httpclient_as_taskcanceled_with_an_inner_timeoutexception()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate(); // never opened: the server does not answer
        upstream.MapGated("/slow", gate);
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)
                .WithResponseTimeout(TimeSpan.FromMilliseconds(300))),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => http.GetAsync("slow"));

        var timeout = Assert.IsType<TimeoutException>(error.InnerException);
        var typed = Assert.IsType<NetTimeoutException>(timeout.InnerException);
        Assert.Equal(TimeoutKind.Attempt, typed.Kind);
        Assert.Equal(1, gate.Arrived);
    }
}
