using NetActors.Auth;
using NetActors.Hosting;

namespace NetActors.Tests.Auth;

/// <summary>A runtime with client "api" on the upstream, authenticated by realm "api" with the refresh endpoint.</summary>
internal static class AuthTestHost
{
    public static Task<NetHost> StartAsync(TestUpstream upstream, int maxConnections = 6,
        Action<AuthRealmBuilder>? realm = null, Action<ClientBuilder>? client = null, Action<NetActorsBuilder>? more = null,
        LogCapture? logs = null) =>
        NetHost.StartAsync(net =>
        {
            net.AddClient("api", c =>
            {
                c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(maxConnections).WithQueueCapacity(5000)
                    .WithBearerAuth(a =>
                    {
                        a.WithRefreshEndpoint("/auth/refresh");
                        realm?.Invoke(a);
                    });
                client?.Invoke(c);
            });
            more?.Invoke(net);
        }, logs);

    public static async Task<NetHost> StartSignedInAsync(TestUpstream upstream, TokenServer tokens, bool expired,
        bool tellExpiry, int maxConnections = 6, Action<AuthRealmBuilder>? realm = null, Action<NetActorsBuilder>? more = null,
        LogCapture? logs = null)
    {
        var host = await StartAsync(upstream, maxConnections, realm, more: more, logs: logs);
        await host.Client.SignInAsync("api", tokens.SignIn(expired, tellExpiry));
        return host;
    }
}
