using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Content;

/// <summary>
/// An upload progress reporter is the caller's code: when it throws, the request fails as the caller's error
/// (typed, never sent again), and nothing is counted against the origin, whose connection did nothing wrong.
/// </summary>
public sealed class UploadProgressFailureTests
{
    [Fact]
    public async Task A_progress_reporter_that_throws_fails_the_request_typed_never_retried_and_never_opens_the_circuit()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        // The default breaker (half of at least 20 attempts failed in 30 s opens it), quick retries.
        await using var net = await NetHost.StartAsync(upstream, c => c
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));
        var throwing = new InlineProgress<TransferProgress>(_ => throw new InvalidOperationException("the caller's progress hook failed"));

        // PUT is idempotent, so only the kind of failure can keep it from being retried.
        var bad = await Task.WhenAll(Enumerable.Range(0, 25).Select(i => Outcomes.Of(net.Client.SendAsync(
            NetRequest.Put("api", $"/up/{i}", NetContent.Bytes(new byte[200_000], "application/octet-stream")).WithUploadProgress(throwing)))));

        Assert.All(bad, o => Assert.IsType<InvalidRequestException>(o.Error));
        for (var i = 0; i < 25; i++)
        {
            Assert.True(upstream.Count($"/up/{i}") <= 1, $"/up/{i} was sent {upstream.Count($"/up/{i}")} times");
        }

        var clean = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Outcomes.Of(net.Client.SendAsync(NetRequest.Get("api", $"/clean/{i}")))));
        Assert.All(clean, o => Assert.Equal(HttpStatusCode.OK, o.Response?.StatusCode));
    }
}
