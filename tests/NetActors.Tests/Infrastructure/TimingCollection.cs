namespace NetActors.Tests.Infrastructure;

/// <summary>
/// Tests that measure rates or wait for timers run alone, after the parallel ones, so that a load test on
/// another class cannot starve this 2-core machine's timers and turn a timing check into a coin toss.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Timing-sensitive";
}

/// <summary>
/// The process-level fleet tests: one after another, but beside the timing collection rather than in it. Their
/// member processes are idle between their paced loads, and their bounds are about seconds of handover, not the
/// milliseconds the timing tests judge; together the two collections would take over half of the suite's time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = false)]
public sealed class FleetCollection
{
    public const string Name = "Fleet processes";
}
