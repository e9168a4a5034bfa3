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
