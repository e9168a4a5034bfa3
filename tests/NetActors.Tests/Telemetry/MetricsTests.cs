using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Tests.Telemetry;

public sealed class MetricsTests
{
    [Fact]
    public async Task A_scripted_workload_shows_on_each_instrument_with_low_cardinality_tags()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        var flaky = 0;
        upstream.Map("/api/flaky", ctx => Interlocked.Increment(ref flaky) == 1
            ? TestUpstream.Write(ctx, 503, null)
            : TestUpstream.Write(ctx, 200, "{}"));
        upstream.Map("/api/missing", ctx => TestUpstream.Write(ctx, 404, null));
        var gate = new Gate();
        upstream.MapGated("/api/shared", gate);

        await using var net = await Auth.AuthTestHost.StartSignedInAsync(upstream, tokens, expired: true, tellExpiry: false);
        // Only this runtime's meter: other tests running in parallel have meters of the same name.
        using var metrics = new MetricsCapture(net.Services);

        await net.Client.SendAsync(NetRequest.Get("api", "/api/a"));                 // 401, refresh, success
        await net.Client.SendAsync(NetRequest.Get("api", "/api/flaky"));             // 503, retry, success
        await Assert.ThrowsAsync<NotFoundException>(() => net.Client.SendAsync(NetRequest.Get("api", "/api/missing")));
        var shared = Enumerable.Range(0, 3).Select(_ => net.Client.SendAsync(NetRequest.Get("api", "/api/shared"))).ToList();
        await gate.WaitForArrivalsAsync(1);
        // Gauges are point-in-time: sample until the one request on the wire (its twins share it) shows.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            metrics.Sample();
            if (metrics.All.Any(m => m.Instrument == "netactors.origin.active_requests" && m.Value == 1) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(10);   // polling interval, like TestKit's AwaitAssert
        }
        gate.Open();
        await Task.WhenAll(shared);
        metrics.Sample();
        var measurements = metrics.All;

        var all = measurements.Where(m => m.Instrument == "netactors.client.request.duration").ToList();
        Assert.All(all, d => Assert.Equal("api", d.Tags["netactors.client"]));
        // The refresh call goes through the runtime too, and is counted as the POST it is.
        Assert.Single(all, d => (string?)d.Tags["http.request.method"] == "POST" && (string?)d.Tags["netactors.outcome"] == "success");
        var durations = all.Where(d => (string?)d.Tags["http.request.method"] == "GET").ToList();
        Assert.Equal(6, durations.Count);
        Assert.Equal(5, durations.Count(d => (string?)d.Tags["netactors.outcome"] == "success" && (string?)d.Tags["http.response.status_class"] == "2xx"));
        Assert.Single(durations, d => (string?)d.Tags["netactors.outcome"] == "http_error" && (string?)d.Tags["http.response.status_class"] == "4xx");
        Assert.Equal(1, metrics.Sum("netactors.client.retries"));
        Assert.Equal(1, metrics.Sum("netactors.client.unauthorized"));
        Assert.Equal(2, metrics.Sum("netactors.client.deduplicated"));
        var refresh = Assert.Single(measurements, m => m.Instrument == "netactors.auth.token_refreshes");
        Assert.Equal("success", refresh.Tags["netactors.outcome"]);
        Assert.Equal("api", refresh.Tags["netactors.realm"]);
        Assert.Contains(measurements, m => m.Instrument == "netactors.origin.active_requests" && m.Value == 1);
        Assert.Contains(measurements, m => m.Instrument == "netactors.origin.circuit_state" && m.Value == 0);
        var origins = measurements.Where(m => m.Instrument.StartsWith("netactors.origin.")).Select(m => (string?)m.Tags["netactors.origin"]).Distinct();
        Assert.Equal([NetActors.Configuration.Origins.KeyOf(upstream.BaseAddress)], origins);
        // No path, query, token or header value is ever a tag.
        Assert.All(measurements.SelectMany(m => m.Tags.Values), v => Assert.DoesNotContain("/api", v?.ToString() ?? ""));
        Assert.All(measurements.SelectMany(m => m.Tags.Values), v => Assert.DoesNotContain("access-", v?.ToString() ?? ""));
    }
}
