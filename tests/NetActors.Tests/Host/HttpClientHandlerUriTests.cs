using NetActors.Hosting;

namespace NetActors.Tests.Host;

/// <summary>
/// The handler passes the caller's <see cref="HttpRequestMessage.RequestUri"/> as it is: however the caller spells it,
/// the realm's token goes only to the realm's origin, and a URL to another origin (also with user info, also the
/// HttpClient's own base address) goes there without it.
/// </summary>
public sealed class HttpClientHandlerUriTests
{
    [Fact]
    public async Task Spellings_of_the_realm_origin_carry_the_token_and_other_origins_never_see_it()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        other.Respond("*", 200, "other");
        await using var net = await NetActors.Tests.Auth.AuthTestHost.StartSignedInAsync(upstream, tokens, expired: false, tellExpiry: true);
        using var http = new HttpClient(new NetActorsHandler(net.Client, "api")) { BaseAddress = other.BaseAddress };
        var port = upstream.BaseAddress.Port;
        var otherPort = other.BaseAddress.Port;

        var relative = await http.GetAsync("rel");                                                  // the HttpClient's base: another origin
        var userInfo = await http.GetAsync(new Uri($"http://user:pw@127.0.0.1:{otherPort}/ui"));     // another origin, with user info
        var shouting = await http.GetAsync(new Uri($"HTTP://127.0.0.1:{port}/api/loud#frag"));       // the realm's origin, in capitals
        var escaped = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/api/a/../b c"));         // dot segments and a space

        Assert.All(new[] { relative, userInfo, shouting, escaped }, r => Assert.True(r.IsSuccessStatusCode, r.StatusCode.ToString()));
        Assert.Equal(["/rel", "/ui"], other.Seen.Select(s => s.Path).Order());
        Assert.All(other.Seen, s => Assert.False(s.Headers.ContainsKey("Authorization")));
        var mine = upstream.Seen.Where(s => s.Path.StartsWith("/api/", StringComparison.Ordinal)).ToList();
        Assert.Equal(["/api/b c", "/api/loud"], mine.Select(s => s.Path).Order());
        Assert.All(mine, s => Assert.StartsWith("Bearer ", s.Headers["Authorization"]));
    }
}
