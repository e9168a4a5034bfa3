namespace NetActors.Tests.Hosts;

public sealed class RelativeUrlTests
{
    [Fact]
    public async Task A_relative_url_with_an_absolute_url_in_its_query_is_resolved_against_the_base_address()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(new Uri(upstream.BaseAddress, "v1"))));

        // A URL is absolute only when it starts with a scheme; "://" later in it is just data.
        var response = await net.Client.SendAsync(NetRequest.Get("api", "search?u=http://x.example"));

        Assert.True(response.IsSuccessStatusCode);
        var seen = Assert.Single(upstream.Seen);
        Assert.Equal("/v1/search", seen.Path);
        Assert.Equal("http://x.example", System.Web.HttpUtility.ParseQueryString(seen.Query)["u"]);
    }
}
