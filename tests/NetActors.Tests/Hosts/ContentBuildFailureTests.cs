using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class ContentBuildFailureTests
{
    [Fact]
    public async Task A_content_that_throws_while_the_message_is_built_fails_its_request_as_invalid_and_frees_its_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/busy", gate);
        upstream.Respond("*", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1).WithIdempotencyKeys());

        // The single slot is busy, so the throwing request is built when it leaves the queue, not when it is sent.
        var busy = net.Client.SendAsync(NetRequest.Get("api", "/busy"));
        await gate.WaitForArrivalsAsync(1);
        var throwing = Outcomes.Of(net.Client.SendAsync(NetRequest.Put("api", "/upload", new ThrowingContent())));
        var after = net.Client.SendAsync(NetRequest.Get("api", "/after"));
        gate.Open();

        Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
        var (response, error) = await throwing.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Null(response);
        var invalid = Assert.IsType<InvalidRequestException>(error);
        Assert.Equal(0, invalid.Attempts);
        Assert.Equal(HttpStatusCode.OK, (await after.WaitAsync(TimeSpan.FromSeconds(15))).StatusCode);
        Assert.Equal(0, upstream.Count("/upload"));

        // Not retried, and the origin still serves its single slot to the next requests.
        var again = await Outcomes.Of(net.Client.SendAsync(NetRequest.Put("api", "/upload", new ThrowingContent())).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.IsType<InvalidRequestException>(again.Error);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/after")).WaitAsync(TimeSpan.FromSeconds(15))).StatusCode);
        Assert.Equal(0, upstream.Count("/upload"));
    }

    /// <summary>A user's content type with a bug: building its HTTP content throws an exception the runtime does not expect.</summary>
    private sealed class ThrowingContent : NetContent
    {
        public override long? Length => 4;

        public override string? MediaType => "application/octet-stream";

        public override HttpContent CreateHttpContent() => throw new InvalidCastException("a bug in a custom content (test)");
    }
}
