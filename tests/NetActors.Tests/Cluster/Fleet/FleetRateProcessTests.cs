using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit.Abstractions;

namespace NetActors.Tests.Cluster.Fleet;

/// <summary>
/// The fleet's rate at the upstream, measured across member processes (see <see cref="FleetProcessTests"/>): in the
/// timing collection, alone, since a rate within 3 % is what a busy machine's late timers would blur.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class FleetRateProcessTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string Store => _temp.Path;

    [SignalFact]
    public async Task A_fleet_rate_of_30_per_second_over_three_member_processes_is_met_within_3_percent_after_one_leaves_and_after_one_is_killed()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var arrivals = new ConcurrentQueue<long>();
        var tokens = new TokenServer
        {
            ProtectedHandler = ctx =>
            {
                arrivals.Enqueue(Stopwatch.GetTimestamp());
                return TestUpstream.Write(ctx, 200, "{}");
            },
        }.Install(upstream);
        await using var fleet = await FleetProcessTests.FleetOf.StartAsync(3, upstream, Store, new Dictionary<string, string> { ["rate"] = "30" });
        await FleetProcessTests.WaitForShares(fleet.Members, 3);
        var session = tokens.SignIn();
        await FleetProcessTests.SignInAsync(fleet[0], session);
        await Task.WhenAll(fleet.Members.Select(m => m.SendAsync("burst 1 /api/warm")));
        arrivals.Clear();

        await FleetProcessTests.AllSucceedAsync(fleet.Members, "burst 60 /api/three");
        var three = FleetProcessTests.SteadyRate(arrivals);
        await fleet[2].ExitAsync(TimeSpan.FromSeconds(30));
        await FleetProcessTests.WaitForShares(fleet.Members.Take(2), 2);
        arrivals.Clear();
        await FleetProcessTests.AllSucceedAsync(fleet.Members.Take(2), "burst 80 /api/two");
        var two = FleetProcessTests.SteadyRate(arrivals);

        // A member that dies keeps its share until the cluster removes it (a member that is only unreachable may still
        // be sending, so the survivors never take its share early): the last member has the whole rate once it has
        // seen the other removed.
        // Of two, keep-majority keeps the side with the lowest address, so the member with the higher port dies.
        var (victim, last) = fleet[0].Port > fleet[1].Port ? (fleet[0], fleet[1]) : (fleet[1], fleet[0]);
        var killed = Stopwatch.StartNew();
        victim.Kill();
        await FleetProcessTests.WaitForShares([last], 1);
        var regained = killed.Elapsed;
        arrivals.Clear();
        await FleetProcessTests.AllSucceedAsync([last], "burst 80 /api/one");
        var one = FleetProcessTests.SteadyRate(arrivals);

        output.WriteLine($"fleet rate of member processes at the upstream: {three:0.00}/s over three, {two:0.00}/s over two after one left, " +
            $"{one:0.00}/s on the last one after the other was killed (its share counted {regained.TotalSeconds:0.0} s after SIGKILL)");
        Assert.InRange(three, 30 * 0.97, 30 * 1.03);
        Assert.InRange(two, 30 * 0.97, 30 * 1.03);
        Assert.InRange(one, 30 * 0.97, 30 * 1.03);
    }

    public void Dispose()
    {
        _temp.Dispose();
    }
}
