using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace NetActors.Cluster;

/// <summary>
/// Counts the cluster members that take part in NetActors (all, or those with the configured role) and keeps
/// <see cref="FleetShare"/> current, so every origin's rate limit is divided among them. A member counts from
/// the moment it joins until it is downed or removed: a member that is leaving, or unreachable, still counts,
/// so the shares never add up to more than the fleet's rate while membership changes.
/// </summary>
internal sealed class FleetMembership : ReceiveActor
{
    private readonly string _role;
    private readonly FleetShare _share;
    private readonly HashSet<UniqueAddress> _members = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private FleetMembership(string role, FleetShare share)
    {
        _role = role;
        _share = share;
        Receive<ClusterEvent.MemberRemoved>(e => Count(e.Member, counts: false));
        Receive<ClusterEvent.MemberDowned>(e => Count(e.Member, counts: false));
        Receive<ClusterEvent.IMemberEvent>(e => Count(e.Member, counts: true));
    }

    public static Props Props(string role, FleetShare share) =>
        ActorProps.Of(() => new FleetMembership(role, share));

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Count(Member member, bool counts)
    {
        if (_role.Length > 0 && !member.HasRole(_role))
        {
            return;
        }

        var changed = counts ? _members.Add(member.UniqueAddress) : _members.Remove(member.UniqueAddress);
        if (changed)
        {
            _share.Set(_members.Count);
            NetActorsClusterStatus.Get(Context.System).SetShares(_members.Count);
            _log.Info("Rate limits are shared by {0} cluster member(s): each takes 1/{1} of every origin's rate",
                _members.Count, _share.Members);
        }
    }
}
