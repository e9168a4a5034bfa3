namespace NetActors.Resilience;

/// <summary>An origin's adaptive concurrency limit moved by more than its <c>event-step</c> (or reached a bound).</summary>
/// <param name="Origin">The origin (scheme://host:port).</param>
/// <param name="Previous">The limit last reported.</param>
/// <param name="Current">The limit now.</param>
/// <param name="Algorithm">gradient or aimd.</param>
public sealed record AdaptiveLimitChanged(string Origin, int Previous, int Current, string Algorithm);

/// <summary>An origin's adaptive rate moved by more than its <c>event-step</c> (or reached a bound).</summary>
/// <param name="Origin">The origin (scheme://host:port).</param>
/// <param name="Previous">The fleet's rate last reported, in permits per second.</param>
/// <param name="Current">The fleet's rate now.</param>
public sealed record AdaptiveRateChanged(string Origin, double Previous, double Current);
