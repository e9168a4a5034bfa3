using Akka.Actor;
using Akka.Event;
using NetActors.Errors;
using NetActors.Hosts;

namespace NetActors.Tests.Hosts;

/// <summary>
/// A request that ends up in dead letters gets an outcome, and one that says what happened: the runtime is shutting
/// down, or (while it runs) its origin's actor stopped under it.
/// </summary>
public sealed class OrphanedRequestTests
{
    [Fact]
    public async Task A_request_dead_lettered_while_the_runtime_runs_fails_with_a_runtime_error_not_a_shutdown()
    {
        await using var upstream = await TestUpstream.StartAsync();
        await using var net = await NetHost.StartAsync(upstream);
        var orphan = Exchange.ForTask(NetRequest.Get("api", "/x"), CancellationToken.None);

        // What a stopped host actor's mailbox hands to dead letters.
        net.System.EventStream.Publish(new DeadLetter(orphan, ActorRefs.Nobody, ActorRefs.Nobody));

        var error = await Assert.ThrowsAsync<NetRuntimeException>(() => orphan.Task).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("origin's actor stopped", error.Message);
        Assert.DoesNotContain("shutting down", error.Message);
    }
}
