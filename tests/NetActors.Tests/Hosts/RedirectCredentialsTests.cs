using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Hosts;

/// <summary>Credentials set by hand stay with the origin they were meant for when a redirect leads elsewhere.</summary>
public sealed class RedirectCredentialsTests
{
    [Fact]
    public async Task Hand_set_credentials_are_not_forwarded_across_a_redirect_to_another_origin()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var other = await TestUpstream.StartAsync();
        other.Respond("*", 200, "{}");
        upstream.Map("/jump", ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = new Uri(other.BaseAddress, "landing").ToString();
            return Task.CompletedTask;
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithHeader("X-Api-Key", "SECRET-DEFAULT"));

        await net.Client.SendAsync(NetRequest.Get("api", "/jump")
            .WithHeader("Authorization", "Basic U0VDUkVU").WithHeader("Cookie", "session=SECRET").WithHeader("X-Trace", "kept"));

        Assert.Equal("Basic U0VDUkVU", upstream.Seen.Single().Headers["Authorization"]);
        var landed = other.Seen.Single().Headers;
        Assert.False(landed.ContainsKey("Authorization"));
        Assert.False(landed.ContainsKey("Cookie"));
        Assert.False(landed.ContainsKey("X-Api-Key"));
        Assert.Equal("kept", landed["X-Trace"]);
    }
}
