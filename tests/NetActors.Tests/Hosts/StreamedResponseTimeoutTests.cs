using System.Diagnostics;
using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

/// <summary>A streamed response nobody disposes is released by its request's total timeout, never leaked.</summary>
[Collection(TimingCollection.Name)]
public sealed class StreamedResponseTimeoutTests
{
    [Fact]
    public async Task An_undisposed_stream_is_aborted_at_its_total_timeout_and_its_slot_goes_to_the_queued_request()
    {
        // The response timeout bounds the wait for the headers only: the body has the rest of the total timeout.
        await using var origin = await StreamOrigin.StartAsync(c => c.WithResponseTimeout(TimeSpan.FromMilliseconds(300)));
        var total = TimeSpan.FromSeconds(1);
        var sent = Stopwatch.GetTimestamp();

        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream").WithTimeout(total))
            .WaitAsync(TimeSpan.FromSeconds(10));
        var next = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")); // waits for the slot the stream holds

        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var freedAfter = Stopwatch.GetElapsedTime(sent);
        Assert.True(freedAfter >= total - TimeSpan.FromMilliseconds(20), $"the slot was freed after {freedAfter.TotalMilliseconds:0} ms");
        await origin.ServerSawStreamEnd.WaitAsync(TimeSpan.FromSeconds(10)); // the connection was closed, not kept
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => streamed.Body.ReadAsync(new byte[16]).AsTask());
        Assert.Equal(TimeoutKind.Total, error.Kind);
        Assert.Equal(total, error.Timeout);
        streamed.Dispose(); // after the timeout: nothing left to free, and no second release
        Assert.Equal(0, origin.Ledger.Admitted);
    }
}
