namespace NetActors.Tests.Cluster;

/// <summary>
/// A fact that needs Unix: file modes, or POSIX signals sent to member processes (<c>kill -9</c>, <c>SIGSTOP</c>,
/// <c>SIGCONT</c>). Elsewhere it is reported as skipped, with the reason, never passed silently.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "needs Unix (file modes and POSIX signals such as SIGKILL, SIGSTOP and SIGCONT); not available on Windows";
        }
    }
}
