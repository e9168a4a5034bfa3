using System.Collections.Concurrent;
using System.Diagnostics;
using NetActors.Auth;
using Xunit.Abstractions;

namespace NetActors.Tests.Cluster.Fleet;

/// <summary>
/// A fleet that is a fleet: members as separate OS processes on 127.0.0.1 (tests/NetActors.FleetMember), sharing a
/// file token store, with the upstream (single-use rotating refresh tokens) in the test process. What only
/// processes show: a member killed with SIGKILL, a member frozen with SIGSTOP past stable-after and thawed, a member
/// started before its seed (the fleet's rate at the upstream: FleetRateProcessTests). Each test is bounded in requests and time, and
/// every member process ends with its test (killed if it will not stop).
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class FleetProcessTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string Store => _temp.Path;

    [SignalFact]
    public async Task A_synchronised_burst_on_three_member_processes_with_an_expired_token_costs_the_fleet_one_refresh_and_the_fleet_stops_in_seconds()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true }.Install(upstream);
        await using var fleet = await FleetOf.StartAsync(3, upstream, Store);
        var session = tokens.SignIn(expired: true, tellExpiry: false);
        await SignInAsync(fleet[1], session);

        var bursts = await Task.WhenAll(fleet.Members.Select(m => m.SendAsync("burst 100 /api/burst")));

        Assert.All(bursts, b => Assert.Equal((100, 0), (FleetMemberProcess.Counts(b).Ok, FleetMemberProcess.Counts(b).Failed)));
        Assert.Equal(1, tokens.RefreshCalls);

        // The whole fleet stops at once: it ends in seconds, and no member logs a failing refresh over and over.
        var stopping = Stopwatch.StartNew();
        await Task.WhenAll(fleet.Members.Select(m => m.ExitAsync(TimeSpan.FromSeconds(40))));
        output.WriteLine($"whole-fleet stop: {stopping.Elapsed.TotalSeconds:0.0} s; refreshes for a burst of 3 x 100: {tokens.RefreshCalls}");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the fleet took {stopping.Elapsed} to stop");
        Assert.All(fleet.Members, m => Assert.InRange(m.LogCount("refresh failed"), 0, 1));
    }

    [SignalFact]
    public async Task Killing_the_singletons_member_with_SIGKILL_under_load_keeps_the_session_and_a_new_singleton_serves_within_the_request_budget()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true }.Install(upstream);
        await using var fleet = await FleetOf.StartAsync(3, upstream, Store); // the default handover settings
        var session = tokens.SignIn();
        await SignInAsync(fleet[1], session);
        await Task.WhenAll(fleet.Members.Select(m => m.SendAsync("burst 5 /api/warm")));

        // The oldest member runs the singleton. It dies, and the access token expires with it: every request the
        // survivors send from now on needs the next singleton's refresh.
        var killed = Stopwatch.StartNew();
        fleet[0].Kill();
        tokens.ExpireNow();
        var loads = fleet.Members.Skip(1).Select(m => m.SendAsync("load 10 25 /api/load", TimeSpan.FromSeconds(90))).ToList();
        var removed = Task.Run(async () =>
        {
            // The next oldest runs it: member1 or member2, whichever joined first.
            while ((await fleet[1].StatusAsync())["singleton"] is var runs && (runs == fleet[0].Address || runs == "none"))
            {
                await Task.Delay(100); // polling the survivor's view
            }

            return killed.Elapsed;
        });
        await Eventually.Assert(() => Assert.Equal(1, tokens.RefreshCalls), TimeSpan.FromSeconds(45));
        var refreshedAfter = killed.Elapsed;
        var outcomes = (await Task.WhenAll(loads)).Select(FleetMemberProcess.Counts).ToList();
        var removedAfter = await removed.WaitAsync(TimeSpan.FromSeconds(30));

        output.WriteLine($"SIGKILL of the singleton's member: removed (the survivors' status names the next member) after " +
            $"{removedAfter.TotalSeconds:0.0} s; the new singleton's refresh reached the upstream after {refreshedAfter.TotalSeconds:0.0} s; requests during it: " +
            string.Join("; ", outcomes.Select(o => o.Answer)));
        Assert.All(outcomes, o => Assert.Equal(250, o.Ok + o.Failed)); // every request an outcome
        Assert.All(outcomes, o => Assert.True(o.Failed == 0, o.Answer));
        Assert.True(refreshedAfter < TimeSpan.FromSeconds(30), $"the new singleton refreshed only after {refreshedAfter}");

        // The session survived: one refresh for the expiry, and the next expiry is refreshed once more.
        tokens.ExpireNow();
        await AllSucceedAsync(fleet.Members.Skip(1), "burst 20 /api/after");
        Assert.Equal(2, tokens.RefreshCalls);
    }

    [SignalFact]
    public async Task A_singletons_member_frozen_past_stable_after_wakes_up_and_steps_down_without_reusing_the_rotated_refresh_token()
    {
        await using var upstream = await TestUpstream.StartAsync();
        // The provider revokes the whole token family when a used refresh token is presented again.
        var tokens = new TokenServer { Rotate = true, RevokeFamilyOnReuse = true, Lifetime = TimeSpan.FromSeconds(10) }.Install(upstream);
        var quick = new Dictionary<string, string> { ["stable-after"] = "3000", ["removal-margin"] = "1000" };
        await using var fleet = await FleetOf.StartAsync(3, upstream, Store, quick);
        var session = tokens.SignIn(); // expires in 10 s: the singleton will refresh it ahead of expiry, at about 9 s
        await SignInAsync(fleet[1], session);
        await Task.WhenAll(fleet.Members.Select(m => m.SendAsync("burst 3 /api/warm")));

        // Frozen: its refresh comes due while it sleeps. The others down it; the next singleton loads the session,
        // claims the next incarnation and rotates the refresh token.
        var frozen = Stopwatch.StartNew();
        fleet[0].Signal("STOP");
        await Eventually.Assert(() => Assert.Equal(1, tokens.RefreshCalls), TimeSpan.FromSeconds(40));
        var replacedAfter = frozen.Elapsed;

        // Thawed: its overdue refresh timer fires with the used refresh token in hand. It re-reads the store first.
        fleet[0].Signal("CONT");
        await Eventually.Assert(() => Assert.True(fleet[0].LogCount("steps down") > 0 || fleet[0].HasExited,
            "the thawed member neither stepped down nor stopped"), TimeSpan.FromSeconds(20));
        var burst = await Task.WhenAll(fleet.Members.Skip(1).Select(m => m.SendAsync("burst 20 /api/after")));

        output.WriteLine($"SIGSTOP past stable-after: replaced and refreshed after {replacedAfter.TotalSeconds:0.0} s; on SIGCONT the old " +
            $"singleton {(fleet[0].LogCount("steps down") > 0 ? "stepped down" : "stopped")}; family revocations: {tokens.FamilyRevocations}");
        Assert.Equal(0, tokens.FamilyRevocations);
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.All(burst, b => Assert.Equal(0, FleetMemberProcess.Counts(b).Failed));
        var stored = await new FileTokenStore(Store).LoadFencedAsync("api", default);
        Assert.NotNull(stored.Tokens);
        Assert.True(stored.Fence.Incarnation >= 2, $"the store's fence is {stored.Fence}");

        // And the next expiry is refreshed, with the rotated token: the session survived the stale singleton.
        tokens.ExpireNow();
        await AllSucceedAsync(fleet.Members.Skip(1), "burst 10 /api/later");
        Assert.Equal(0, tokens.FamilyRevocations);
    }

    [SignalFact]
    public async Task A_sign_in_on_a_member_started_before_its_seed_fails_and_is_never_applied_when_it_joins()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer { Rotate = true }.Install(upstream);
        var seedPort = FleetMemberProcess.FreePort();
        var seed = $"akka.tcp://fleet@127.0.0.1:{seedPort}";
        await using var early = await FleetMemberProcess.StartAsync("early", FleetMemberProcess.FreePort(), [seed], upstream.BaseAddress, Store);

        var stale = tokens.SignIn();
        var failed = await early.SendAsync($"signin {stale.AccessToken} {stale.RefreshToken} {stale.ExpiresAt!.Value.ToUnixTimeSeconds()}");
        Assert.StartsWith("error ClusterUnavailableException", failed);

        await using var first = await FleetMemberProcess.StartAsync("seed", seedPort, [seed], upstream.BaseAddress, Store);
        await Task.WhenAll(first.WaitUpAsync(2), early.WaitUpAsync(2));
        var current = tokens.SignIn(); // the server now accepts only this session's refresh token
        await SignInAsync(first, current);

        // The copies of the failed sign-in that the early member's proxy kept reach the singleton now, and are dropped.
        await Eventually.Assert(() => Assert.True(first.LogCount("dropped a sign-in") > 0, "no copy reached the singleton"),
            TimeSpan.FromSeconds(20));
        tokens.ExpireNow();
        var bursts = await AllSucceedAsync([first, early], "burst 20 /api/after");
        output.WriteLine($"stale sign-in: the member answered '{failed.Split(' ')[1]}'; afterwards: {string.Join("; ", bursts)}");
        Assert.Equal(1, tokens.RefreshCalls);
        Assert.Equal(0, first.LogCount("invalid_grant"));
    }

    /// <summary>Sends <paramref name="command"/> (a burst) to every member; every request of each must succeed.</summary>
    internal static async Task<string[]> AllSucceedAsync(IEnumerable<FleetMemberProcess> members, string command)
    {
        var answers = await Task.WhenAll(members.Select(m => m.SendAsync(command)));
        Assert.All(answers, a => Assert.Equal(0, FleetMemberProcess.Counts(a).Failed));
        return answers;
    }

    /// <summary>Signs in on <paramref name="member"/> (the tokens travel over its stdin, never on a command line).</summary>
    internal static async Task SignInAsync(FleetMemberProcess member, TokenSet session)
    {
        var expires = session.ExpiresAt is { } at ? at.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) : "-";
        Assert.StartsWith("ok", await member.SendAsync($"signin {session.AccessToken} {session.RefreshToken} {expires}"));
    }

    internal static Task WaitForShares(IEnumerable<FleetMemberProcess> members, int shares) =>
        Task.WhenAll(members.Select(async m =>
        {
            var until = Stopwatch.StartNew();
            while ((await m.StatusAsync())["shares"] != shares.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                Assert.True(until.Elapsed < TimeSpan.FromSeconds(30), $"{m.Name} never counted {shares} members");
                await Task.Delay(100); // polling the member's view
            }
        }));

    /// <summary>The arrival rate from one second after the first arrival to one second before the last.</summary>
    internal static double SteadyRate(IEnumerable<long> arrivals)
    {
        var stamps = arrivals.Order().ToArray();
        var from = stamps[0] + Stopwatch.Frequency;
        var to = stamps[^1] - Stopwatch.Frequency;
        var inside = stamps.Where(s => s >= from && s <= to).ToArray();
        return (inside.Length - 1) / Stopwatch.GetElapsedTime(inside[0], inside[^1]).TotalSeconds;
    }

    public void Dispose()
    {
        _temp.Dispose();
    }

    /// <summary>N member processes; the first is the seed (and so the oldest, running the singletons).</summary>
    internal sealed class FleetOf : IAsyncDisposable
    {
        private FleetOf(List<FleetMemberProcess> members) => Members = members;

        public List<FleetMemberProcess> Members { get; }

        public FleetMemberProcess this[int index] => Members[index];

        public static async Task<FleetOf> StartAsync(int size, TestUpstream upstream, string store,
            IReadOnlyDictionary<string, string>? options = null)
        {
            var ports = Enumerable.Range(0, size).Select(_ => FleetMemberProcess.FreePort()).ToList();
            var seed = $"akka.tcp://fleet@127.0.0.1:{ports[0]}";
            var fleet = new FleetOf([]);
            try
            {
                fleet.Members.Add(await FleetMemberProcess.StartAsync("member0", ports[0], [seed], upstream.BaseAddress, store, options));
                await fleet.Members[0].WaitUpAsync(1);
                var starting = ports.Skip(1).Select((port, i) =>
                    FleetMemberProcess.StartAsync($"member{i + 1}", port, [seed], upstream.BaseAddress, store, options)).ToList();
                try
                {
                    await Task.WhenAll(starting);
                }
                finally
                {
                    fleet.Members.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
                }

                await Task.WhenAll(fleet.Members.Select(m => m.WaitUpAsync(size)));
                return fleet;
            }
            catch
            {
                await fleet.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync() => await Task.WhenAll(Members.Select(m => m.DisposeAsync().AsTask()));
    }
}
