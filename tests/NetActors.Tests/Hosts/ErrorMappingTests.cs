using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class ErrorMappingTests
{
    // The attempts: a GET is retried on a transient status (429, 5xx) up to max-attempts (3), never on another 4xx.
    public static TheoryData<int, Type, int> Statuses => new()
    {
        { 400, typeof(ValidationException), 1 },
        { 401, typeof(UnauthorizedException), 1 },
        { 403, typeof(ForbiddenException), 1 },
        { 404, typeof(NotFoundException), 1 },
        { 409, typeof(ConflictException), 1 },
        { 422, typeof(UnprocessableException), 1 },
        { 429, typeof(RateLimitedException), 3 },
        { 500, typeof(ServerException), 3 },
        { 503, typeof(ServerException), 3 },
        { 418, typeof(HttpStatusException), 1 },
    };

    [Theory]
    [MemberData(nameof(Statuses))]
    public async Task Each_error_status_maps_to_its_exception_with_method_url_status_and_attempts(int status, Type expected, int attempts)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/fail", status, "{\"oops\":1}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        var error = await Assert.ThrowsAnyAsync<HttpStatusException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/fail?token=SECRET-T")));

        Assert.IsType(expected, error);
        Assert.Equal(status, (int)error.StatusCode);
        Assert.Equal("GET", error.Method);
        Assert.Equal("api", error.Client);
        Assert.Equal(upstream.Origin + "/fail?token=***", error.Url);
        Assert.Equal(attempts, error.Attempts);
        Assert.Equal(attempts, upstream.Count("/fail"));
        Assert.DoesNotContain("SECRET-T", error.Message);
    }

    [Fact]
    public async Task Problem_details_are_parsed_from_problem_json()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders", 422,
            "{\"type\":\"https://example.com/probs/out-of-stock\",\"title\":\"Out of stock\",\"status\":422," +
            "\"detail\":\"Item 12 is out of stock.\",\"instance\":\"/orders/7\",\"balance\":30}",
            "application/problem+json");
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<UnprocessableException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { item = 12 }))));

        Assert.NotNull(error.Problem);
        Assert.Equal("https://example.com/probs/out-of-stock", error.Problem!.Type);
        Assert.Equal("Out of stock", error.Problem.Title);
        Assert.Equal(422, error.Problem.Status);
        Assert.Equal("/orders/7", error.Problem.Instance);
        Assert.Equal(30, error.Problem.Extensions["balance"].GetInt32());
        Assert.Contains("Item 12 is out of stock.", error.Message);
    }

    private sealed record User(int Id, string Name);

    [Fact]
    public async Task Malformed_json_gives_response_format_exception_naming_type_and_position()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/user", 200, "{\"id\": 1, \"name\": ");
        upstream.Respond("/wrong", 200, "{\"id\": \"not-a-number\", \"name\": \"x\"}");
        await using var net = await NetHost.StartAsync(upstream);

        var truncated = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.GetJsonAsync<User>("api", "/user"));
        Assert.Contains("User", truncated.Message);
        Assert.Contains("line 1", truncated.Message);

        var wrongType = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.GetJsonAsync<User>("api", "/wrong"));
        Assert.Contains("$.id", wrongType.Message);

        // The runtime keeps serving.
        upstream.Respond("/good", 200, "{\"id\": 2, \"name\": \"ok\"}");
        Assert.Equal(new User(2, "ok"), await net.Client.GetJsonAsync<User>("api", "/good"));
    }

    [Fact]
    public async Task A_refused_connection_gives_network_exception()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress($"http://127.0.0.1:{port}/")));

        var error = await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/x")));

        Assert.Contains("refused", error.Message);
    }

    [Fact]
    public async Task A_reset_connection_gives_network_exception()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/reset", TestUpstream.Abort);
        await using var net = await NetHost.StartAsync(upstream);

        await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/reset")));
    }

    [Fact]
    public async Task A_response_over_the_size_limit_fails_typed_and_frees_the_connection()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var big = new string('x', 10_000);
        upstream.Respond("/big", 200, big, "text/plain");
        upstream.Map("/big-chunked", async ctx =>
        {
            ctx.Response.ContentType = "text/plain";
            for (var i = 0; i < 10; i++)
            {
                await ctx.Response.WriteAsync(new string('y', 1000));
                await ctx.Response.Body.FlushAsync();
            }
        });
        upstream.Respond("/small", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithMaxResponseSize(4096));

        var declared = await Assert.ThrowsAsync<ResponseTooLargeException>(() => net.Client.SendAsync(NetRequest.Get("api", "/big")));
        Assert.Equal(4096, declared.Limit);
        await Assert.ThrowsAsync<ResponseTooLargeException>(() => net.Client.SendAsync(NetRequest.Get("api", "/big-chunked")));

        // The single slot was released both times.
        var small = await net.Client.SendAsync(NetRequest.Get("api", "/small")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(small.IsSuccessStatusCode);
    }
}
