using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Hosting;

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
}
