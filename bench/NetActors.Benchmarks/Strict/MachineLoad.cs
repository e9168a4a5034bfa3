using System.Diagnostics;
using System.Globalization;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// How busy the machine was during a measurement, from Linux's /proc: the whole machine's busy CPU time
/// (/proc/stat, every core) and the CPU time of the bench's own processes (this one, the bench parent, the
/// out-of-process upstream: /proc/&lt;pid&gt;/stat). What the machine spent beyond the bench's own processes is
/// "other load", as a fraction of all cores over the window: 0.25 on 2 cores is half a core used by something else.
/// Resolution is the kernel's clock tick (10 ms), so windows should last a second or more.
/// </summary>
internal sealed class MachineLoad
{
    private readonly int[] _pids;
    private readonly long _machineBusy;
    private readonly long _machineTotal;
    private readonly long _own;
    private readonly long _started = Stopwatch.GetTimestamp();

    private MachineLoad(int[] pids, (long Busy, long Total) machine, long own)
    {
        _pids = pids;
        (_machineBusy, _machineTotal) = machine;
        _own = own;
    }

    /// <summary>Whether /proc/stat can be read (Linux); elsewhere the load is unknown and no round is dropped.</summary>
    public static bool Available { get; } = File.Exists("/proc/stat");

    /// <summary>Starts a window; <paramref name="ownPids"/> are the bench's processes besides this one.</summary>
    public static MachineLoad Start(IEnumerable<int> ownPids)
    {
        var pids = ownPids.Prepend(Environment.ProcessId).Distinct().ToArray();
        return Available ? new MachineLoad(pids, ReadMachine(), ReadProcesses(pids)) : new MachineLoad(pids, (0, 0), 0);
    }

    /// <summary>The load 1-minute average now, as /proc/loadavg says, or null.</summary>
    public static double? LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Ends the window: the machine's busy share, the bench's own share and the rest (all 0–1), or null when unknown.</summary>
    public LoadSample? Stop()
    {
        if (!Available)
        {
            return null;
        }

        var (busy, total) = ReadMachine();
        var own = ReadProcesses(_pids);
        var totalDelta = total - _machineTotal;
        if (totalDelta <= 0)
        {
            return null;
        }

        var busyShare = (double)(busy - _machineBusy) / totalDelta;
        var ownShare = (double)(own - _own) / totalDelta;
        return new LoadSample(busyShare, ownShare, Math.Max(0, busyShare - ownShare),
            Stopwatch.GetElapsedTime(_started).TotalSeconds);
    }

    /// <summary>Busy and total clock ticks of all cores: the first line of /proc/stat.</summary>
    private static (long Busy, long Total) ReadMachine()
    {
        using var reader = new StreamReader("/proc/stat");
        var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        // cpu user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already in user.
        long total = 0;
        for (var i = 1; i <= 8 && i < fields.Length; i++)
        {
            total += long.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        var idle = long.Parse(fields[4], CultureInfo.InvariantCulture) + long.Parse(fields[5], CultureInfo.InvariantCulture);
        return (total - idle, total);
    }

    /// <summary>Microseconds of one clock tick of /proc (USER_HZ is 100 on Linux).</summary>
    public const double TickMicroseconds = 10_000;

    /// <summary>User and system clock ticks of the processes (one that has exited counts 0).</summary>
    public static long ReadProcesses(params int[] pids)
    {
        long ticks = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");

                // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // Gone: nothing to add.
            }
        }

        return ticks;
    }
}

/// <summary>One window's CPU shares of the whole machine (all cores): busy, the bench's own, everything else.</summary>
internal sealed record LoadSample(double Busy, double Own, double Other, double Seconds);
