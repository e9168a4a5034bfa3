using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class InputValidationTests
{
    [Fact]
    public async Task Invalid_input_fails_before_anything_is_sent_and_the_runtime_keeps_serving()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress))
            .AddClient("nobase"));

        var unknown = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("nope", "/x")));
        Assert.Contains("no client named 'nope'", unknown.Message);

        var relative = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("nobase", "/x")));
        Assert.Contains("relative", relative.Message);

        var injected = await Assert.ThrowsAsync<InvalidRequestException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/x").WithHeader("X-Evil", "a\r\nSet-Cookie: pwned=1")));
        Assert.Contains("X-Evil", injected.Message);
        Assert.DoesNotContain("pwned", injected.Message);

        var badName = await Assert.ThrowsAsync<InvalidRequestException>(() =>
            net.Client.SendAsync(NetRequest.Get("api", "/x").WithHeader("Bad Header", "v")));
        Assert.Contains("header name", badName.Message);

        var scheme = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("api", "ftp://example.com/file")));
        Assert.Contains("ftp", scheme.Message);

        var space = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("api", "/a b")));
        Assert.Contains("space", space.Message);

        Assert.Empty(upstream.Seen);
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/fine"));
        Assert.True(ok.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Relative_urls_are_appended_to_the_base_address_path()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(new Uri(upstream.BaseAddress, "v1"))));

        await net.Client.SendAsync(NetRequest.Get("api", "/users/me"));
        await net.Client.SendAsync(NetRequest.Get("api", "users/you?x=1"));

        Assert.Equal(["/v1/users/me", "/v1/users/you"], upstream.Seen.Select(s => s.Path));
        Assert.Equal("?x=1", upstream.Seen[1].Query);
    }

    [Fact]
    public async Task App_version_platform_and_default_headers_are_sent()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithAppVersion("2.3.4").WithHeader("X-Tenant", "acme"));

        await net.Client.SendAsync(NetRequest.Get("api", "/a"));
        await net.Client.SendAsync(NetRequest.Get("api", "/b").WithHeader("X-Tenant", "override"));

        var first = upstream.Seen[0].Headers;
        Assert.Equal("2.3.4", first["X-App-Version"]);
        Assert.Contains(".NET/", first["X-Platform"]);
        Assert.Equal("acme", first["X-Tenant"]);
        Assert.Equal("override", upstream.Seen[1].Headers["X-Tenant"]);
    }

    [Fact]
    public async Task Json_helpers_round_trip_with_system_text_json()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/echo", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            var body = await reader.ReadToEndAsync();
            await TestUpstream.Write(ctx, 200, body);
        });
        upstream.Respond("/items/1", 204, null);
        await using var net = await NetHost.StartAsync(upstream);

        var posted = await net.Client.PostJsonAsync<Item, Item>("api", "/echo", new Item(7, "seven"));
        var put = await net.Client.PutJsonAsync<Item, Item>("api", "/echo", new Item(8, "eight"));
        var deleted = await net.Client.DeleteAsync("api", "/items/1");

        Assert.Equal(new Item(7, "seven"), posted);
        Assert.Equal(new Item(8, "eight"), put);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal("{\"id\":7,\"name\":\"seven\"}", System.Text.Encoding.UTF8.GetString(upstream.Seen[0].Body));
        Assert.Equal("application/json; charset=utf-8", upstream.Seen[0].Headers["Content-Type"]);
    }

    private sealed record Item(int Id, string Name);
}
