using System.Text;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class NonReplayableBodyTests
{
    private const string Payload = "the whole body, once";

    [Theory]
    [InlineData(503)]   // a transient failure: the PUT is retried
    [InlineData(307)]   // a redirect that keeps the method: the body is sent again
    public async Task A_stream_body_that_cannot_be_replayed_fails_its_resend_typed_instead_of_sending_an_empty_body(int first)
    {
        await using var upstream = await TestUpstream.StartAsync();
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<string>();
        upstream.Map("/upload", async ctx =>
        {
            // The body is chunked (no length given), so the handler reads it itself.
            using var reader = new StreamReader(ctx.Request.Body);
            bodies.Enqueue(await reader.ReadToEndAsync());
            if (bodies.Count > 1)
            {
                await TestUpstream.Write(ctx, 200, "{}");
                return;
            }

            if (first == 307)
            {
                ctx.Response.Headers.Location = "/upload";
            }

            await TestUpstream.Write(ctx, first, null);
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)));

        // open() hands back the same stream each time: after the first attempt it is consumed (and still open).
        var stream = new KeptStream(Encoding.UTF8.GetBytes(Payload));
        var (response, error) = await Outcomes.Of(net.Client.SendAsync(NetRequest.Put("api", "/upload", NetContent.Stream(() => stream))));

        Assert.Null(response);
        Assert.IsAssignableFrom<NetException>(error);
        // Whatever reached the upstream was the whole body, never an empty or partial one.
        Assert.NotEmpty(bodies);
        Assert.All(bodies, b => Assert.Equal(Payload, b));
    }

    /// <summary>A stream the application keeps and hands out again: whoever reads it does not close it.</summary>
    private sealed class KeptStream(byte[] bytes) : MemoryStream(bytes)
    {
        protected override void Dispose(bool disposing)
        {
        }
    }
}
