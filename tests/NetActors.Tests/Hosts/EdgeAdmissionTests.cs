using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>The admission bound at the edge, over real sockets.</summary>
public sealed class EdgeAdmissionTests
{
    [Fact]
    public async Task Callers_that_send_again_as_soon_as_they_have_their_answer_never_find_a_full_origin_at_exact_capacity()
    {
        // Capacity is exactly the callers (cap 3, queue 0): a place must be free by the time a caller sees its answer,
        // even though the host actor does the attempt's bookkeeping after the caller was answered.
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ping", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(3).WithQueueCapacity(0));

        var overloaded = 0;
        var ok = 0;
        var callers = Enumerable.Range(0, 3).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    var response = await net.Client.SendAsync(NetRequest.Get("api", $"/ping?c={c}&i={i}"));
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    Interlocked.Increment(ref ok);
                }
                catch (OverloadedException)
                {
                    Interlocked.Increment(ref overloaded);
                }
            }
        })).ToArray();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, overloaded);
        Assert.Equal(900, ok);
        Assert.InRange(upstream.MaxConcurrent, 1, 3);
    }

    [Fact]
    public async Task A_full_origin_answers_overloaded_without_the_request_reaching_the_host_actor()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.Map("/slow", gate.PassAsync);
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(2).WithQueueCapacity(3));

        var held = Enumerable.Range(0, 5).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/slow?i={i}"))).ToList();
        await gate.WaitForArrivalsAsync(2);

        // The sixth is refused synchronously at the edge: its task is already faulted when SendAsync returns.
        var refused = net.Client.SendAsync(NetRequest.Get("api", "/slow?i=6"));
        await Assert.ThrowsAsync<OverloadedException>(() => refused.WaitAsync(TimeSpan.FromSeconds(10)));

        gate.Open();
        var responses = await Task.WhenAll(held).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(5, upstream.Count("/slow"));

        // Places are free again.
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/slow?i=7"))).StatusCode);
    }
}
