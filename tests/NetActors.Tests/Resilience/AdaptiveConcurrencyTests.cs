using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Resilience;
using NetActors.Telemetry;

namespace NetActors.Tests.Resilience;

/// <summary>
/// Adaptive concurrency and rate against real sockets: a Kestrel upstream with a real capacity (or a real rate)
/// that changes while the run goes on, a closed loop of callers, short sampling windows. The limits are read
/// where an operator reads them: the <c>NetActors</c> meter's gauges, the health data, the log and the events.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class AdaptiveConcurrencyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Gradient = """
        netactors.clients.api.adaptive-concurrency {
          enabled = on, algorithm = gradient, min-limit = 1, window = 150ms, min-window-samples = 10
          baseline-probe-interval = 60s
        }
        """;

    [Fact]
    public async Task Limit_follows_a_capacity_drop_from_16_to_4_within_5_s_and_the_rise_back_within_10_s()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var server = new CapacityEndpoint(16, TimeSpan.FromMilliseconds(40));
        upstream.Map("/cap", server.HandleAsync);
        var logs = new LogCapture();
        await using var net = await NetHost.StartAsync(n => n
            .WithHocon(Gradient)
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxConnections(64).WithDeduplication(false)), logs);
        var events = Events.Collect<AdaptiveLimitChanged>(net.System);
        using var metrics = new MetricsCapture(net.Services);
        var origin = Origins.KeyOf(upstream.BaseAddress);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(25));
        var load = ClosedLoop(net.Client, callers: 48, stop.Token);

        int Limit()
        {
            metrics.Sample();
            return (int)metrics.All.Last(m => m.Instrument == "netactors.origin.concurrency_limit" &&
                                              (string?)m.Tags["netactors.origin"] == origin).Value;
        }

        // Up to near 16 first (it starts with one window at min-limit, to measure the baseline).
        await Eventually.Assert(() => Assert.InRange(Limit(), 12, 64), TimeSpan.FromSeconds(6));

        var clock = Stopwatch.StartNew();
        server.Capacity = 4;
        await Eventually.Assert(() => Assert.InRange(Limit(), 1, 8), TimeSpan.FromSeconds(5));
        var down = clock.Elapsed;

        clock.Restart();
        server.Capacity = 16;
        await Eventually.Assert(() => Assert.InRange(Limit(), 12, 64), TimeSpan.FromSeconds(10));
        var up = clock.Elapsed;

        await stop.CancelAsync();
        var outcomes = await load;

        output.WriteLine($"limit followed 16 -> 4 in {down.TotalSeconds:0.00} s, 4 -> 16 in {up.TotalSeconds:0.00} s; " +
                         $"upstream max concurrent {upstream.MaxConcurrent}; {outcomes.Ok} ok, {outcomes.Failed} failed");
        Assert.True(down < TimeSpan.FromSeconds(5), $"down in {down}");
        Assert.True(up < TimeSpan.FromSeconds(10), $"up in {up}");
        Assert.InRange(upstream.MaxConcurrent, 1, 64);         // the hard cap held throughout
        Assert.Equal(0, outcomes.Failed);                      // nobody was failed for the limit: they waited for it
        Assert.Contains(events, e => e.Origin == origin && e.Current <= 8);
        Assert.Contains(logs.Lines, l => l.Contains("NetActors.Requests: Adaptive concurrency limit for " + origin));

        var health = await ActivatorUtilities.CreateInstance<NetActorsHealthCheck>(net.Services)
            .CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.InRange((int)health.Data["concurrency-limit:" + origin], 1, 64);
    }

    [Fact]
    public async Task Adaptive_rate_settles_within_15_percent_of_an_upstream_that_answers_429_above_20_per_second()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var server = new RateLimitedEndpoint(rate: 20, burst: 5);
        upstream.Map("/cap", server.HandleAsync);
        await using var net = await NetHost.StartAsync(n => n
            // The reference decrease-factor, and its increase-step of 0.5/s per 1 s window scaled to 200 ms windows.
            .WithHocon("netactors.clients.api.adaptive-rate.increase-step = 0.1")
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithDeduplication(false).WithMaxAttempts(1)
                .WithRateLimit(40).WithAdaptiveRate(minRate: 1, maxRate: 60, window: TimeSpan.FromMilliseconds(200))));
        var events = Events.Collect<AdaptiveRateChanged>(net.System);
        using var metrics = new MetricsCapture(net.Services);
        var origin = Origins.KeyOf(upstream.BaseAddress);
        var started = Stopwatch.GetTimestamp();
        using var stop = new CancellationTokenSource();
        var load = ClosedLoop(net.Client, callers: 16, stop.Token);
        var rates = new List<double>();

        // Sampled every 100 ms for 8 s: it starts at twice the upstream's rate and must come down to 20/s and stay
        // there (from 3 s on).
        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100)))
        {
            while (await tick.WaitForNextTickAsync() && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(8))
            {
                metrics.Sample();
                if (Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(3))
                {
                    rates.Add(metrics.All.Last(m => m.Instrument == "netactors.origin.rate_limit").Value);
                }
            }
        }

        await stop.CancelAsync();
        await load;

        var from = started + (long)(3 * Stopwatch.Frequency);
        var settled = server.Answers.Where(a => a.At >= from).ToList();
        var share = settled.Count(a => a.Refused) / (double)settled.Count;
        var served = settled.Count(a => !a.Refused) / Stopwatch.GetElapsedTime(from).TotalSeconds;
        output.WriteLine($"settled (3-8 s): 429 share {share:P2} of {settled.Count}, served {served:0.0}/s, " +
                         $"gauge mean {rates.Average():0.0}/s (min {rates.Min():0.0}, max {rates.Max():0.0})");
        Assert.True(share < 0.02, $"429 share {share:P1} of {settled.Count} (rates {string.Join(" ", rates.Select(r => r.ToString("0.0")))})");
        Assert.InRange(rates.Average(), 17, 23);
        Assert.InRange(served, 17, 23);
        Assert.Contains(events, e => e.Origin == origin && e.Current < 30);
    }

    /// <summary><paramref name="callers"/> callers, each sending the next request as soon as it has the last one's outcome.</summary>
    private static async Task<(int Ok, int Failed)> ClosedLoop(INetClient client, int callers, CancellationToken stop)
    {
        var ok = 0;
        var failed = 0;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.SendAsync(NetRequest.Get("api", "/cap"), stop);
                    Interlocked.Increment(ref ok);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (RateLimitedException)
                {
                    // The rate test's upstream says no above 20/s: the caller just asks again.
                }
                catch (NetException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        return (ok, failed);
    }
}
