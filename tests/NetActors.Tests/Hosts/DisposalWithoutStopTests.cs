using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace NetActors.Tests.Hosts;

[Collection(TimingCollection.Name)]
public sealed class DisposalWithoutStopTests
{
    [Fact]
    public async Task Disposing_the_host_right_after_start_without_stopping_it_ends_quietly()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        var logs = new LogCapture();
        // What `using var host` does when the application throws right after starting: Dispose, no StopAsync.
        var host = NetHost.Build(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)), logs);
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();

        host.Dispose();

        try
        {
            // An observation window (not a synchronisation): the system may stop or stay, but it stays quiet.
            await Task.WhenAny(system.WhenTerminated, Task.Delay(TimeSpan.FromSeconds(2)));
            var errors = logs.Lines.Count(l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
            Assert.True(errors < 10, $"{errors} error log events after disposal (a restart loop?); first: " +
                                     logs.Lines.FirstOrDefault(l => l.StartsWith("Error", StringComparison.Ordinal)));
        }
        finally
        {
            // Never leave a spinning system behind for the tests that follow.
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
