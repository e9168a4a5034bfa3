using System.Diagnostics;
using System.Net;
using NetActors.Tests.Auth;

namespace NetActors.Tests.Review;

/// <summary>
/// The third hostile probe's findings whose tests judge a time (see <see cref="OriginProbeRegressionTests"/> and
/// <see cref="SurfaceProbeRegressionTests"/> for the rest): a JSON body's own slow code must not hold up the origin's
/// other requests, and a rate too small for any timer must still answer within the total timeout.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class ProbeTimingRegressionTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    /// <summary>A body whose getter blocks until the test lets it go, and says when it was entered.</summary>
    public sealed class SlowBody
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _release = new();

        public Task Entered => _entered.Task;

        public void Release() => _release.Set();

        public string Name
        {
            get
            {
                _entered.TrySetResult();
                _release.Wait(TimeSpan.FromSeconds(10)); // the body's own slow code (a lazy load, a lock)
                return "x";
            }
        }
    }

    [Fact]
    public async Task A_json_body_whose_own_code_is_slow_does_not_hold_up_the_origins_other_requests()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        await using var net = await NetHost.StartAsync(upstream, c => c.WithMaxConnections(4));
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode); // warm

        var body = new SlowBody();
        var slow = Task.Run(() => net.Client.SendAsync(NetRequest.Post("api", "/ok?slow=1", NetContent.Json(body))));
        await body.Entered.WaitAsync(Safety);
        try
        {
            var clock = Stopwatch.StartNew();
            var other = await net.Client.SendAsync(NetRequest.Get("api", "/ok?other=1").WithTimeout(TimeSpan.FromSeconds(5))).WaitAsync(Safety);

            Assert.Equal(HttpStatusCode.OK, other.StatusCode); // answered while the body's getter still blocks
            Assert.False(slow.IsCompleted);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"the other request took {clock.ElapsedMilliseconds} ms");
        }
        finally
        {
            body.Release();
        }

        Assert.Equal(HttpStatusCode.OK, (await slow.WaitAsync(Safety)).StatusCode);
    }

    [Fact]
    public async Task On_an_auth_origin_a_rate_too_small_for_any_timer_still_answers_within_the_total_timeout()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        await using var net = await AuthTestHost.StartAsync(upstream, client: c => c.WithRateLimit(1e-300));
        await net.Client.SignInAsync("api", tokens.SignIn(expired: true, tellExpiry: false));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await net.Client.TrySendAsync(NetRequest.Get("api", "/api/x").WithTimeout(TimeSpan.FromSeconds(3))).AsTask().WaitAsync(Safety);

        Assert.NotNull(outcome.Error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4.5), $"total timeout 3 s; answered after {clock.ElapsedMilliseconds} ms");
    }
}
