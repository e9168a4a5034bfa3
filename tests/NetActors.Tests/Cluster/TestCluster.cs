using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Cluster;
using NetActors.Hosting;

namespace NetActors.Tests.Cluster;

/// <summary>
/// A cluster of NetActors hosts inside the test process: each a generic host with its own actor system, joined
/// over real Akka.Remote on 127.0.0.1 (free ports). The first member is the oldest, so it runs the realms'
/// singletons. Gossip and singleton timings are shortened so that a cluster forms and hands over in a second or
/// two; every wait on membership polls the members' own view (no fixed delays).
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private const string FastCluster = """
        akka.loglevel = WARNING
        akka.cluster {
          log-info = off
          gossip-interval = 200ms
          leader-actions-interval = 200ms
          periodic-tasks-initial-delay = 100ms
          unreachable-nodes-reaper-interval = 250ms
          singleton.hand-over-retry-interval = 200ms
          singleton-proxy.singleton-identification-interval = 200ms
        }
        """;

    private readonly List<NetHost> _members;
    private readonly List<NetHost> _stopped = [];
    private readonly HashSet<NetHost> _borrowed = [];

    private TestCluster(List<NetHost> members)
    {
        _members = members;
    }

    /// <summary>The members still running, oldest first.</summary>
    public IReadOnlyList<NetHost> Members => _members;

    public NetHost this[int index] => _members[index];

    /// <summary>Starts <paramref name="size"/> members with the same NetActors configuration and waits until all see all Up.</summary>
    public static async Task<TestCluster> StartAsync(int size, Action<NetActorsBuilder> configure,
        Action<IServiceCollection>? services = null, Action<NetActorsClusterOptions>? cluster = null,
        string? hocon = null, LogCapture? logs = null)
    {
        var members = new List<NetHost>();
        var testCluster = new TestCluster(members);
        try
        {
            for (var i = 0; i < size; i++)
            {
                members.Add(await StartMemberAsync(configure, services, cluster, hocon, logs));
            }

            // The first member forms the cluster alone, then the others join it one by one (so it is the oldest).
            var seed = Akka.Cluster.Cluster.Get(members[0].System).SelfAddress;
            for (var i = 0; i < size; i++)
            {
                Akka.Cluster.Cluster.Get(members[i].System).Join(seed);
                await testCluster.WaitUntilUpAsync(i + 1, members.Take(i + 1));
            }

            return testCluster;
        }
        catch
        {
            await testCluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts a member configured like the others that has not joined any cluster (as a member whose seed nodes
    /// are not reachable); <see cref="JoinAsync"/> joins it later.
    /// </summary>
    public static Task<NetHost> StartMemberAsync(Action<NetActorsBuilder> configure,
        Action<IServiceCollection>? services = null, Action<NetActorsClusterOptions>? cluster = null,
        string? hocon = null, LogCapture? logs = null) =>
        NetHost.StartAsync(configure, logs, services, (akka, _) =>
        {
            akka.AddHocon(FastCluster, HoconAddMode.Prepend);
            if (hocon is not null || logs is not null)
            {
                akka.AddHocon((logs is null ? "" : "akka.loglevel = INFO\n") + hocon, HoconAddMode.Prepend);
            }

            akka.WithNetActorsCluster(o =>
            {
                o.Hostname = "127.0.0.1";
                o.Port = 0;
                cluster?.Invoke(o);
            });
        });

    /// <summary>
    /// Joins <paramref name="member"/> (started by <see cref="StartMemberAsync"/>) to this cluster; it becomes the
    /// youngest. The test that started it still disposes it (declare it after the cluster, so it leaves first).
    /// </summary>
    public async Task JoinAsync(NetHost member)
    {
        _members.Add(member);
        _borrowed.Add(member);
        Akka.Cluster.Cluster.Get(member.System).Join(Akka.Cluster.Cluster.Get(_members[0].System).SelfAddress);
        await WaitUntilUpAsync(_members.Count);
    }

    /// <summary>Waits until every one of <paramref name="members"/> sees exactly <paramref name="count"/> members Up.</summary>
    public Task WaitUntilUpAsync(int count, IEnumerable<NetHost>? members = null) =>
        Eventually.Assert(() =>
        {
            foreach (var member in members ?? _members)
            {
                var state = Akka.Cluster.Cluster.Get(member.System).State;
                Assert.Equal(count, state.Members.Count(m => m.Status == MemberStatus.Up));
            }
        }, TimeSpan.FromSeconds(20));

    /// <summary>Stops <paramref name="member"/> the way a host stops: it leaves the cluster gracefully.</summary>
    public Task StopAsync(NetHost member)
    {
        _members.Remove(member);
        _stopped.Add(member);
        return member.Host.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // The youngest leaves first: each leave is then an ordinary one (members leaving all at once wait out
        // the singleton hand-over and exiting timeouts). StopAsync returns once the member has left and stopped.
        for (var i = _members.Count - 1; i >= 0; i--)
        {
            if (_borrowed.Contains(_members[i]))
            {
                continue;
            }

            await _members[i].DisposeAsync();
        }

        foreach (var stopped in _stopped)
        {
            await stopped.DisposeAsync();
        }
    }
}
