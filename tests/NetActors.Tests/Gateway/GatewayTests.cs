using System.Net;
using Akka.Actor;
using NetActors.Auth;

namespace NetActors.Tests.Gateway;

public sealed class GatewayTests
{
    [Fact]
    public async Task The_gateway_answers_a_request_told_to_it_and_never_hands_out_a_realms_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/me", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))));
        await net.Client.SignInAsync("api", new TokenSet("secret-access-token", "secret-refresh-token", DateTimeOffset.UtcNow.AddHours(1)));

        // Tell/Ask with a NetRequest: the same outcome as the facade.
        var response = await net.Gateway.Ask<NetResponse>(NetRequest.Get("api", "/me"), TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The token protocol is internal to the runtime, and the gateway forwards none of it: whoever reaches the
        // actor registry still cannot read the bearer token through it.
        Assert.False(typeof(GetToken).IsPublic);
        Assert.False(typeof(TokenGranted).IsPublic);
        await Assert.ThrowsAsync<AskTimeoutException>(() =>
            net.Gateway.Ask<object>(new GetToken("api", 0), TimeSpan.FromMilliseconds(500)));
    }
}
