namespace NetActors.Cluster;

/// <summary>
/// How many processes share each origin's rate limit: 1 in a single process; in cluster mode with shared rate
/// limits, the members taking part, kept current by <see cref="FleetMembership"/>. Read by every host actor's
/// <see cref="Resilience.RateGate"/> on each permit, written by one actor.
/// </summary>
internal sealed class FleetShare
{
    private int _members = 1;

    /// <summary>The number of processes the rate is divided among (at least 1).</summary>
    public int Members => Volatile.Read(ref _members);

    /// <summary>Sets the number of members; fewer than 1 counts as 1.</summary>
    public void Set(int members) => Volatile.Write(ref _members, Math.Max(1, members));
}
