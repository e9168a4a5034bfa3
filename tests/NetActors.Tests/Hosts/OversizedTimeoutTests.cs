using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class OversizedTimeoutTests
{
    // Longer than a CancellationTokenSource can be armed with (about 49.7 days).
    private static readonly TimeSpan SixtyDays = TimeSpan.FromDays(60);

    [Fact]
    public async Task A_download_whose_timeout_is_longer_than_a_timer_can_hold_gets_an_outcome_and_never_keeps_the_slot()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        upstream.MapGated("/busy", gate);
        upstream.Respond("/file", 200, "contents");
        upstream.Respond("/after", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(1));
        using var dir = new TempDirectory();

        // The single slot is busy, so the long-timeout download waits in the queue and is put on the wire later.
        var busy = net.Client.SendAsync(NetRequest.Get("api", "/busy"));
        await gate.WaitForArrivalsAsync(1);
        // WithTimeout refuses it at once; a request built around that check is refused when it is sent.
        Assert.Throws<ArgumentOutOfRangeException>(() => NetRequest.Get("api", "/file").WithTimeout(SixtyDays));
        var longTimeout = NetRequest.Get("api", "/file") with { Timeout = SixtyDays };
        var outcome = Outcomes.Of(DownloadedAsync(net.Client, longTimeout, Path.Combine(dir.Path, "file.bin")));
        var after = net.Client.SendAsync(NetRequest.Get("api", "/after"));
        gate.Open();

        Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
        // Every request gets exactly one outcome: clamped (the request is served) or rejected as invalid.
        var (response, error) = await outcome.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.True(response?.StatusCode == HttpStatusCode.OK || error is InvalidRequestException,
            $"expected 200 or InvalidRequestException, got {response?.StatusCode.ToString() ?? error?.ToString()}");
        // The slot it took (if any) was freed: the next request on the cap-1 origin still gets through.
        Assert.Equal(HttpStatusCode.OK, (await after.WaitAsync(TimeSpan.FromSeconds(15))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/after")).WaitAsync(TimeSpan.FromSeconds(15))).StatusCode);
    }

    private static async Task<NetResponse> DownloadedAsync(INetClient client, NetRequest request, string path) =>
        (await client.DownloadAsync(request, path)).Response;
}
