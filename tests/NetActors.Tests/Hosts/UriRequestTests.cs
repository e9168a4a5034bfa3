using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>
/// A request built from a <see cref="Uri"/> (as with <c>HttpClient.GetAsync(Uri)</c>): an absolute http(s) one is sent
/// as it is; anything else is decided by its text, exactly as the same URL given as a string.
/// </summary>
public sealed class UriRequestTests
{
    [Fact]
    public async Task An_absolute_uri_reused_by_many_requests_reaches_its_path_with_the_client_base_origin_and_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));
        var uri = new Uri(upstream.BaseAddress, "/items/é?q=a%20b");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            net.Client.SendAsync(NetRequest.Get("api", uri).WithoutDeduplication())));

        Assert.All(responses, r => Assert.True(r.IsSuccessStatusCode));
        Assert.Equal(20, upstream.Seen.Count);
        Assert.All(upstream.Seen, seen =>
        {
            Assert.Equal("/items/é", seen.Path);
            Assert.Equal("?q=a%20b", seen.Query);
        });
        Assert.Equal(uri.OriginalString, NetRequest.Get("api", uri).Url);
    }

    [Fact]
    public async Task A_thousand_callers_sharing_one_uri_at_once_each_get_their_own_answer_within_the_cap()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/echo", ctx => TestUpstream.Write(ctx, 200, ctx.Request.Headers["X-N"].ToString(), "text/plain"));
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(4).WithQueueCapacity(1_000));
        var uri = new Uri(upstream.BaseAddress, "/echo");

        // One Uri instance, read by 1,000 requests on as many threads at once; each differs only by a header, so none
        // may share another's wire call or answer.
        var bodies = await Task.WhenAll(Enumerable.Range(0, 1_000).Select(i => Task.Run(async () =>
            (await net.Client.SendAsync(NetRequest.Get("api", uri).WithHeader("X-N", i.ToString()))).ReadAsString())));

        Assert.Equal(Enumerable.Range(0, 1_000).Select(i => i.ToString()), bodies);
        Assert.Equal(1_000, upstream.Count("/echo"));
        Assert.InRange(upstream.MaxConcurrent, 1, 4);
    }

    [Fact]
    public async Task A_uri_to_another_origin_goes_there_without_the_realm_token_and_one_to_the_base_origin_carries_it()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        upstream.Respond("/api/mine", 200, "base");
        other.Respond("*", 200, "other");
        await using var net = await NetActors.Tests.Auth.AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);

        // Same host, another port: another origin, outside the realm.
        var elsewhere = await net.Client.SendAsync(NetRequest.Get("api", new Uri(other.BaseAddress, "/x")));
        var mine = await net.Client.SendAsync(NetRequest.Get("api", new Uri(upstream.BaseAddress, "/api/mine")));

        Assert.Equal("other", elsewhere.ReadAsString());
        Assert.False(Assert.Single(other.Seen).Headers.ContainsKey("Authorization"));
        Assert.Equal("base", mine.ReadAsString());
        Assert.StartsWith("Bearer ", upstream.Seen.Single(s => s.Path == "/api/mine").Headers["Authorization"]);
    }

    [Fact]
    public async Task Relative_null_and_non_http_uris_behave_as_their_text_does()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(new Uri(upstream.BaseAddress, "v1"))));

        // A relative Uri is resolved against the base address, like the same relative string.
        var relative = await net.Client.SendAsync(NetRequest.Get("api", new Uri("users/me", UriKind.Relative)));
        Assert.True(relative.IsSuccessStatusCode);
        Assert.Equal("/v1/users/me", Assert.Single(upstream.Seen).Path);

        // On Unix "/path" parses as an absolute file Uri: its text is relative, so it is resolved as such.
        var rooted = new Uri("/users/you", UriKind.RelativeOrAbsolute);
        Assert.True((await net.Client.SendAsync(NetRequest.Get("api", rooted))).IsSuccessStatusCode);
        Assert.Equal("/v1/users/you", upstream.Seen[1].Path);

        // Another scheme, or no Uri at all, is the caller's error, typed, and nothing is sent.
        var ftp = await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("api", new Uri("ftp://x.example/f"))));
        Assert.Contains("ftp", ftp.Message);
        await Assert.ThrowsAsync<InvalidRequestException>(() => net.Client.SendAsync(NetRequest.Get("api", (Uri)null!)));
        Assert.Equal(2, upstream.Seen.Count);
    }

    [Fact]
    public void A_copy_with_another_url_forgets_the_uri_and_requests_are_equal_by_their_text()
    {
        var uri = new Uri("https://api.example/a");
        var fromUri = NetRequest.Get("api", uri);
        var fromText = NetRequest.Get("api", "https://api.example/a");

        Assert.Same(uri, fromUri.GivenAbsoluteUri);
        Assert.Null(fromText.GivenAbsoluteUri);
        Assert.Equal(fromText, fromUri);
        Assert.Equal(fromText.GetHashCode(), fromUri.GetHashCode());

        var moved = fromUri with { Url = "https://api.example/b" };
        Assert.Null(moved.GivenAbsoluteUri);
        Assert.Same(uri, (fromUri with { Anonymous = true }).GivenAbsoluteUri);
    }
}
