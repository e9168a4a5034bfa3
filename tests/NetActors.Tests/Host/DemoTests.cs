using NetActors.Host.Demo;

namespace NetActors.Tests.Host;

public sealed class DemoTests
{
    [Fact]
    public async Task The_demo_burst_with_an_expired_token_holds_every_invariant()
    {
        await using var upstream = await DemoUpstream.StartAsync(CancellationToken.None);
        await using var net = await NetHost.StartAsync(n => n.AddClient("demo", c => c
            .WithBaseAddress(upstream.BaseAddress).WithMaxConnections(6)
            .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))));

        var summary = await DemoRunner.RunBurstAsync(net.Client, upstream, 60, 6, CancellationToken.None);

        Assert.Empty(summary.Violations);
        Assert.Equal(1, summary.Refreshes);
        Assert.Equal(0, summary.WithoutOutcome);
        Assert.InRange(summary.MaxConcurrency, 1, 6);
        Assert.Equal(58, summary.Succeeded);   // two of the items do not exist: 404 by design
        Assert.Equal(2, summary.FailuresByKind["NotFoundException"]);
    }
}
