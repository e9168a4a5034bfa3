using System.Collections.Concurrent;
using System.Diagnostics;
using NetActors.Errors;

namespace NetActors.Host.Load;

/// <summary>
/// Sends requests through the runtime and keeps the books on the first promise: every request sent gets exactly one
/// outcome, within its total timeout. Counts requests started and finished, outcomes by kind, and the slowest.
/// </summary>
/// <param name="net">The runtime's facade.</param>
/// <param name="totalTimeout">The total timeout of a client's requests, by client name (for the "in time" check).</param>
internal sealed class RequestLedger(INetClient net, Func<string, TimeSpan> totalTimeout) : INetClient
{
    /// <summary>Grace on top of a request's total timeout before it counts as late (scheduling on a busy machine).</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private long _started;
    private long _finished;
    private long _succeeded;
    private long _late;
    private long _slowestTicks;

    /// <summary>The facade, for the calls the ledger does not wrap.</summary>
    public INetClient Net => net;

    /// <summary>Requests sent.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Requests that got their outcome.</summary>
    public long Finished => Interlocked.Read(ref _finished);

    /// <summary>Requests answered with a response.</summary>
    public long Succeeded => Interlocked.Read(ref _succeeded);

    /// <summary>Requests whose outcome came later than their total timeout (plus <see cref="Grace"/>).</summary>
    public long Late => Interlocked.Read(ref _late);

    /// <summary>The longest time a request took to its outcome.</summary>
    public TimeSpan Slowest => TimeSpan.FromTicks(Interlocked.Read(ref _slowestTicks));

    /// <summary>Failed requests by exception type.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures.ToDictionary(k => k.Key, k => k.Value);

    /// <summary>Sends <paramref name="request"/> and records its outcome.</summary>
    public async Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _started);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await net.SendAsync(request, cancellationToken);
            Interlocked.Increment(ref _succeeded);
            return response;
        }
        catch (Exception e)
        {
            _failures.AddOrUpdate(KindOf(e), 1, (_, n) => n + 1);
            throw;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var ticks = elapsed.Ticks;
            long seen;
            while (ticks > (seen = Interlocked.Read(ref _slowestTicks)) && Interlocked.CompareExchange(ref _slowestTicks, ticks, seen) != seen)
            {
            }

            if (elapsed > (request.Timeout ?? totalTimeout(request.Client)) + Grace)
            {
                Interlocked.Increment(ref _late);
            }

            Interlocked.Increment(ref _finished);
        }
    }

    // The facade's JSON helpers are INetClient's own, through SendAsync: the ledger sees each of their requests.

    public Task<long> SignInAsync(string realm, TokenSet tokens, CancellationToken cancellationToken = default) =>
        net.SignInAsync(realm, tokens, cancellationToken);

    public Task TerminateSessionAsync(string realm, CancellationToken cancellationToken = default) =>
        net.TerminateSessionAsync(realm, cancellationToken);

    /// <summary>The name an outcome is counted under: the exception's type (a cancellation is "Cancelled").</summary>
    public static string KindOf(Exception e) => e switch
    {
        OperationCanceledException => "Cancelled",
        NetException => e.GetType().Name,
        _ => "Unexpected " + e.GetType().Name,
    };
}
