using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Tests.Telemetry;

[Collection(TimingCollection.Name)]
public sealed class HealthCheckTests
{
    [Fact]
    public async Task Health_is_degraded_while_a_circuit_is_open_and_unhealthy_while_a_session_is_expired()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var failing = true;
        upstream.Map("/flaky/*", ctx => failing ? TestUpstream.Write(ctx, 500, null) : TestUpstream.Write(ctx, 200, "{}"));
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
                .WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)
                .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(300))
                .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))),
            services: s => s.AddHealthChecks().AddNetActors());
        var health = net.Services.GetRequiredService<HealthCheckService>();
        await net.Client.SignInAsync("api", tokens.SignIn());
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/flaky/{i}")));
        }

        var degraded = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, degraded.Status);

        failing = false;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await health.CheckHealthAsync()).Status != HealthStatus.Healthy)
        {
            Assert.True(DateTime.UtcNow < deadline, "the circuit never closed");
            try
            {
                await net.Client.SendAsync(NetRequest.Get("api", "/flaky/probe"));   // the probe closes it once half-open
            }
            catch (CircuitOpenException)
            {
                await Task.Delay(50);   // still open: poll again
            }
        }

        await net.Client.TerminateSessionAsync("api");
        var unhealthy = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Contains("api", unhealthy.Entries["netactors"].Description);

        await net.Client.SignInAsync("api", tokens.SignIn());
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
    }

    [Fact]
    public async Task A_realm_never_signed_in_is_healthy_and_one_logged_out_is_unhealthy_until_the_next_sign_in()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
                .WithBaseAddress(upstream.BaseAddress).WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))),
            services: s => s.AddHealthChecks().AddNetActors());
        var health = net.Services.GetRequiredService<HealthCheckService>();

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);   // never signed in: nothing has failed

        await net.Client.SignInAsync("api", tokens.SignIn());
        await net.Client.TerminateSessionAsync("api");
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);  // logged out: requests fail

        await net.Client.SignInAsync("api", tokens.SignIn());
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
    }
}
