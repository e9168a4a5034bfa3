namespace NetActors.Tests.Infrastructure;

/// <summary>
/// Why tests of a change that is not in <c>src/</c> yet are skipped. Each is a regression test that fails on the code
/// before the change; setting a reason to null runs all of its tests at once.
/// </summary>
internal static class Pending
{
    /// <summary>The origin actor rebuilt around one admission ledger, with max-retry-after and idle-origin-timeout.</summary>
    public const string? Ledger = null;
}
