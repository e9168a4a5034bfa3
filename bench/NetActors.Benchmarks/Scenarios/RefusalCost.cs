using System.Diagnostics;
using NetActors.Errors;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// What one refusal costs its caller: on one thread, against an origin that is full (cap 1, queue 1, both held by
/// the server), 200,000 sends in a row, each refused before the call returns. Compared: awaiting an
/// already-faulted task and catching its exception (the floor of any throwing API), SendAsync caught, and
/// TrySendAsync (the refusal as a value).
/// </summary>
internal static class RefusalCost
{
    private const int Count = 200_000;

    public static async Task<Section> RunAsync(BenchServer server, int passes)
    {
        await using var client = await NetActorsClient.StartAsync(server, cap: 1, c => c.WithQueueCapacity(1));
        await client.Net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, "small"));
        var arrived = server.ArmBlockGate();
        var held = new[]
        {
            client.Net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, "block?held=1")),
            client.Net.SendAsync(NetRequest.Get(NetActorsClient.ClientName, "block?held=2")),
        };
        await arrived;

        var info = new NetRequestInfo(NetActorsClient.ClientName, "GET", server.BaseAddress + "work", 0);
        var cases = new (string Name, Func<int, bool> Refused)[]
        {
            ("await a faulted task, catch (floor)", _ => Caught(Task.FromException<NetResponse>(
                new OverloadedException(info, server.BaseAddress.GetLeftPart(UriPartial.Authority), 1)))),
            ("SendAsync, catch OverloadedException", n => Caught(client.Net.SendAsync(Request(n)))),
            ("TrySendAsync, read Error", n => client.Net.TrySendAsync(Request(n)).GetAwaiter().GetResult().Error is OverloadedException),
        };

        var section = new Section("Cost of one refusal: one thread, a full origin (cap 1, queue 1), 200,000 refused sends in a row",
            "caller", "ns per refusal", "B allocated per refusal");
        foreach (var (name, refused) in cases)
        {
            var ns = new List<double>();
            var bytes = new List<double>();
            for (var pass = 0; pass < passes; pass++)
            {
                var (passNs, passBytes) = Measure(refused);
                ns.Add(passNs);
                bytes.Add(passBytes);
            }

            section.Row(name, Summary.Of(ns).Format(0), Summary.Of(bytes).Format(0));
        }

        server.ReleaseBlockGate();
        await Task.WhenAll(held);
        return section.Note($"Median [min–max] of {passes} passes. Every send builds its own request (its own URL), " +
                            "as the overload scenario's callers do; the floor builds only the exception.");
    }

    private static NetRequest Request(int n) => NetRequest.Get(NetActorsClient.ClientName, $"work?c=0&n={n}");

    private static bool Caught(Task<NetResponse> refusal)
    {
        try
        {
            refusal.GetAwaiter().GetResult();
            return false;
        }
        catch (OverloadedException)
        {
            return true;
        }
    }

    private static (double Ns, double Bytes) Measure(Func<int, bool> refused)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        for (var n = 0; n < Count; n++)
        {
            if (!refused(n))
            {
                throw new InvalidOperationException($"send {n} to a full origin was not refused");
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return (elapsed.TotalNanoseconds / Count, (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Count);
    }
}
