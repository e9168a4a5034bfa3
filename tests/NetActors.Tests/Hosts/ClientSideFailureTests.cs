using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class ClientSideFailureTests
{
    public static TheoryData<string> BadRequests =>
        ["non-ascii header", "chunked get", "lying stream length", "stream longer than declared"];

    private static NetRequest Bad(string kind, int i) => kind switch
    {
        "non-ascii header" => NetRequest.Get("api", $"/bad/{i}").WithHeader("X-Name", "José"),
        "chunked get" => NetRequest.Get("api", $"/bad/{i}").WithHeader("Transfer-Encoding", "chunked"),
        // PUT is idempotent, so only the kind of failure can keep it from being retried.
        "lying stream length" => NetRequest.Put("api", $"/bad/{i}", NetContent.Stream(() => new MemoryStream(new byte[10]), length: 100)),
        _ => NetRequest.Put("api", $"/bad/{i}", NetContent.Stream(() => new MemoryStream(new byte[100_000]), length: 10)),
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task One_callers_bad_input_is_invalid_never_sent_never_retried_and_never_opens_the_circuit(string kind)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        // The default breaker (half of at least 20 attempts failed in 30 s opens it), quick retries.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        var bad = await Task.WhenAll(Enumerable.Range(0, 25).Select(i => Outcomes.Of(net.Client.SendAsync(Bad(kind, i)))));

        Assert.All(bad, o =>
        {
            var invalid = Assert.IsType<InvalidRequestException>(o.Error);
            Assert.Equal(0, invalid.Attempts);
        });
        Assert.DoesNotContain(upstream.Seen, r => r.Path.StartsWith("/bad/", StringComparison.Ordinal));

        // Other callers' clean requests are served: the bad input counted nothing against the origin.
        var clean = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/clean/{i}")))));
        Assert.Equal(0, clean.Count(o => o.Error is CircuitOpenException));
        Assert.All(clean, o => Assert.Equal(HttpStatusCode.OK, o.Response?.StatusCode));
    }
}
