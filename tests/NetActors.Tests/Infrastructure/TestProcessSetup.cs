using System.Runtime.CompilerServices;

namespace NetActors.Tests.Infrastructure;

/// <summary>
/// The test process runs Kestrel upstreams, several actor systems and xunit's parallel classes on a 2-core
/// machine, where the thread pool starts with 2 worker threads. Measurements showed several pool threads
/// blocked together for 700–900 ms at a time inside this test host (a standalone process running the same
/// NetActors workload shows no such pause; see the README's performance notes), which turns rate and timer
/// checks into coin tosses. A larger minimum lets the pool absorb such pauses at once.
/// </summary>
internal static class TestProcessSetup
{
    [ModuleInitializer]
    internal static void RaiseThreadPoolMinimum()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));
    }
}
