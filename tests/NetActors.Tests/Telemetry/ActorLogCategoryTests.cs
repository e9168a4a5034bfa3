using NetActors.Errors;

namespace NetActors.Tests.Telemetry;

public sealed class ActorLogCategoryTests
{
    [Fact]
    public async Task The_actors_events_reach_microsoft_logging_under_their_NetActors_category_with_named_properties()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/down/*", ctx => TestUpstream.Write(ctx, 500, null));
        var logs = new LogCapture();
        await using (var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)
            .WithCircuitBreaker(0.5, 4, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30))), logs))
        {
            for (var i = 0; i < 4; i++)
            {
                await Assert.ThrowsAsync<ServerException>(() => net.Client.SendAsync(NetRequest.Get("api", $"/down/{i}")));
            }

            await Eventually.Assert(() => Assert.Contains(logs.Lines, l => l.StartsWith("Information NetActors.Hosts.HostActor: Circuit for", StringComparison.Ordinal)));
        }

        var lines = logs.Lines.ToList();
        var circuit = lines.FindIndex(l => l.StartsWith("Information NetActors.Hosts.HostActor: Circuit for", StringComparison.Ordinal));
        var properties = lines.Skip(circuit + 1).TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).ToList();
        Assert.Contains($"  Origin={NetActors.Configuration.Origins.KeyOf(upstream.BaseAddress)}", properties);
        Assert.Contains("  Current=Open", properties);
        Assert.DoesNotContain(properties, p => p.StartsWith("  0=", StringComparison.Ordinal));
    }
}
