using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Hosting;
using Refit;

namespace NetActors.Tests.Host;

public sealed record RefitOrder(string Sku, int Quantity, string Note);

public sealed record RefitReceipt(bool Ok);

/// <summary>A Refit interface as an application declares it; Refit's generator writes the client at build time.</summary>
public interface IRefitOrdersApi
{
    [Post("/in/orders")]
    Task<RefitReceipt> CreateAsync([Body] RefitOrder order, [Header("Idempotency-Key")] string idempotencyKey, CancellationToken ct);

    [Put("/in/orders/{id}")]
    Task UpdateAsync(int id, [Body] RefitOrder order, CancellationToken ct);

    [Multipart("netactors-refit-boundary")]
    [Post("/in/upload")]
    Task UploadAsync([AliasAs("title")] string title, [AliasAs("report")] StreamPart report, CancellationToken ct);

    [Post("/in/form")]
    Task FormAsync([Body(BodySerializationMethod.UrlEncoded)] Dictionary<string, string> fields, CancellationToken ct);

    [Put("/in/blob")]
    Task BlobAsync([Body] Stream body, CancellationToken ct);
}

[JsonSerializable(typeof(RefitOrder))]
[JsonSerializable(typeof(RefitReceipt))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
public sealed partial class RefitJson : JsonSerializerContext;

public sealed class RefitClientTests
{
    private static async Task<(TestUpstream Upstream, BodyRecorder Bodies, NetHost Net, IRefitOrdersApi Api)> StartAsync(int failFirst = 0)
    {
        var upstream = await TestUpstream.StartAsync();
        var bodies = new BodyRecorder();
        upstream.Map("/in/*", failFirst > 0 ? bodies.FailingFirst(failFirst) : bodies.Ok);
        var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(3)
                .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50))),
            services: s => s.AddRefitGeneratedClient<IRefitOrdersApi>(RefitJson.Default)
                .ConfigureHttpClient(h => h.BaseAddress = upstream.BaseAddress)
                .AddNetActorsHandler("api"));
        return (upstream, bodies, net, net.Services.GetRequiredService<IRefitOrdersApi>());
    }

    [Fact]
    public async Task A_refit_client_posts_and_puts_json_with_its_charset_and_the_server_receives_it_exactly()
    {
        var (upstream, bodies, net, api) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        var order = new RefitOrder("B-7", 3, "naïve ☂");

        var receipt = await api.CreateAsync(order, "key-1", CancellationToken.None);
        await api.UpdateAsync(7, order with { Quantity = 4 }, CancellationToken.None);

        Assert.True(receipt.Ok);
        var (post, put) = (bodies.Bodies[0], bodies.Bodies[1]);
        Assert.Equal(("POST", "/in/orders", "key-1"), (post.Method, post.Path, post.IdempotencyKey));
        Assert.Equal("application/json; charset=utf-8", post.ContentType);
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(order, RefitJson.Default.RefitOrder), post.Bytes);
        Assert.Equal(("PUT", "/in/orders/7"), (put.Method, put.Path));
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(order with { Quantity = 4 }, RefitJson.Default.RefitOrder), put.Bytes);
    }

    [Fact]
    public async Task A_refit_multipart_upload_a_form_and_a_streamed_body_reach_the_server_exactly()
    {
        var (upstream, bodies, net, api) = await StartAsync();
        await using var _ = upstream;
        await using var __ = net;
        var csv = Encoding.UTF8.GetBytes(string.Join("\n", Enumerable.Range(0, 3000).Select(i => $"{i},größe,{i * 2}")));
        var blob = Enumerable.Range(0, 150_000).Select(i => (byte)(i % 253)).ToArray();

        await api.UploadAsync("Report", new StreamPart(new OneWayStream(csv), "report.csv", "text/csv"), CancellationToken.None);
        await api.FormAsync(new() { ["name"] = "Zoë & co", ["q"] = "a+b" }, CancellationToken.None);
        await api.BlobAsync(new OneWayStream(blob), CancellationToken.None);

        var (upload, form, stream) = (bodies.Bodies[0], bodies.Bodies[1], bodies.Bodies[2]);
        Assert.StartsWith("multipart/form-data; boundary=", upload.ContentType);
        Assert.Contains("netactors-refit-boundary", upload.ContentType);
        var text = Encoding.UTF8.GetString(upload.Bytes);
        Assert.Contains("name=title", text);
        Assert.Contains("filename=report.csv", text);
        Assert.Contains(Encoding.UTF8.GetString(csv), text);
        Assert.Equal(("application/x-www-form-urlencoded", "name=Zo%C3%AB+%26+co&q=a%2Bb"),
            (form.ContentType?.Split(';')[0], Encoding.ASCII.GetString(form.Bytes)));
        Assert.Equal(blob, stream.Bytes);
    }

    [Fact]
    public async Task A_refit_post_with_an_idempotency_key_that_is_retried_resends_identical_bytes()
    {
        var (upstream, bodies, net, api) = await StartAsync(failFirst: 2);
        await using var _ = upstream;
        await using var __ = net;
        var order = new RefitOrder("C-9", 1, "retry me");

        var receipt = await api.CreateAsync(order, "key-retry", CancellationToken.None);

        Assert.True(receipt.Ok);
        Assert.Equal(3, bodies.Bodies.Count);
        var expected = JsonSerializer.SerializeToUtf8Bytes(order, RefitJson.Default.RefitOrder);
        Assert.All(bodies.Bodies, b =>
        {
            Assert.Equal("key-retry", b.IdempotencyKey);
            Assert.Equal("application/json; charset=utf-8", b.ContentType);
            Assert.Equal(expected, b.Bytes);
        });
    }
}
