using System.Text.Json;
using System.Text.Json.Serialization;
using NetActors.Errors;

namespace NetActors.Tests.Content;

public sealed record Order(int Id, string Customer, string? Note = null, int Quantity = 1);

[JsonSerializable(typeof(Order))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
public sealed partial class OrderJsonContext : JsonSerializerContext;

public sealed class JsonTests
{
    [Fact]
    public async Task Defensive_reads_ignore_unknown_fields_and_default_missing_optional_ones()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders/1", 200, "{\"id\":1,\"customer\":\"ada\",\"addedLater\":true, /* comment */ \"quantity\":\"3\",}");
        await using var net = await NetHost.StartAsync(upstream);

        var order = await net.Client.GetJsonAsync<Order>("api", "/orders/1");

        Assert.Equal(new Order(1, "ada", null, 3), order);
    }

    [Fact]
    public async Task Strict_reads_name_the_json_path_of_an_unknown_field()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders/1", 200, "{\"id\":1,\"customer\":\"ada\",\"addedLater\":true}");
        await using var net = await NetHost.StartAsync(upstream, c => c.Set("json.read-policy", "strict"));

        var error = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.GetJsonAsync<Order>("api", "/orders/1"));

        Assert.Contains("Order", error.Message);
        Assert.Contains("$.addedLater", error.Message);
    }

    [Fact]
    public async Task A_wrong_type_deep_in_the_body_is_a_ResponseFormatException_with_its_path()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders", 200, "[{\"id\":1,\"customer\":\"ada\"},{\"id\":\"two\",\"customer\":\"bob\"}]");
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Assert.ThrowsAsync<ResponseFormatException>(() => net.Client.GetJsonAsync<List<Order>>("api", "/orders"));

        Assert.Contains("$[1].id", error.Message);
    }

    [Fact]
    public async Task The_clients_naming_policy_applies_to_bodies_sent_and_read()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/orders", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            var sent = await reader.ReadToEndAsync();
            await TestUpstream.Write(ctx, 200, sent.Replace("\"customer\":\"ada\"", "\"customer\":\"ada lovelace\""));
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.Set("json.naming-policy", "snake-case-lower"));

        var echoed = await net.Client.PostJsonAsync<object, JsonElement>("api", "/orders", new { OrderId = 7, Customer = "ada" });

        Assert.Equal(7, echoed.GetProperty("order_id").GetInt32());
        Assert.Equal("{\"order_id\":7,\"customer\":\"ada\"}", System.Text.Encoding.UTF8.GetString(upstream.Seen[0].Body));
    }

    [Fact]
    public async Task NetContent_Json_without_options_takes_the_sending_clients_naming_policy()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders", 201, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.Set("json.naming-policy", "snake-case-lower"));

        await net.Client.SendAsync(NetRequest.Post("api", "/orders", NetContent.Json(new { OrderId = 7 })));

        Assert.Equal("{\"order_id\":7}", System.Text.Encoding.UTF8.GetString(upstream.Seen[0].Body));
    }

    [Fact]
    public async Task A_source_generated_context_is_accepted()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/orders/9", 200, "{\"id\":9,\"customer\":\"grace\",\"note\":\"rush\"}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithJson(OrderJsonContext.Default));

        var order = await net.Client.GetJsonAsync<Order>("api", "/orders/9");

        Assert.Equal(new Order(9, "grace", "rush"), order);
    }
}
