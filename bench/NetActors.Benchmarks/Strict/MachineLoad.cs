using System.Diagnostics;
using System.Globalization;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// How busy the machine was during a measurement, from Linux's /proc: the whole machine's busy CPU time
/// (/proc/stat, every core) and the CPU time of the bench's own processes (this one, the bench parent, the
/// out-of-process upstream: /proc/&lt;pid&gt;/stat). What the machine spent beyond the bench's own processes is
/// "other load", as a fraction of all cores over the window: 0.25 on 2 cores is half a core used by something else.
/// It is estimated twice and the larger is kept: from the machine's counters (busy minus the bench's own), which
/// the kernel samples at its clock tick and can under-count for work that wakes on timers, and from the CPU time
/// of every other process (/proc/*/stat), which misses processes that ended during the window (those the first
/// estimate sees). Resolution is the clock tick (10 ms), so windows should last a second or more.
/// </summary>
internal sealed class MachineLoad
{
    private readonly int[] _pids;
    private readonly long _machineBusy;
    private readonly long _machineTotal;
    private readonly long _own;
    private readonly Dictionary<int, long> _others;
    private readonly long _started = Stopwatch.GetTimestamp();

    private MachineLoad(int[] pids, (long Busy, long Total) machine, long own, Dictionary<int, long> others)
    {
        _pids = pids;
        (_machineBusy, _machineTotal) = machine;
        _own = own;
        _others = others;
    }

    /// <summary>Whether /proc/stat can be read (Linux); elsewhere the load is unknown and no round is dropped.</summary>
    public static bool Available { get; } = File.Exists("/proc/stat");

    /// <summary>Starts a window; <paramref name="ownPids"/> are the bench's processes besides this one.</summary>
    public static MachineLoad Start(IEnumerable<int> ownPids)
    {
        var pids = ownPids.Prepend(Environment.ProcessId).Distinct().ToArray();
        return Available
            ? new MachineLoad(pids, ReadMachine(), ReadProcesses(pids), ReadOthers(pids))
            : new MachineLoad(pids, (0, 0), 0, []);
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
        var others = ReadOthers(_pids);
        var totalDelta = total - _machineTotal;
        if (totalDelta <= 0)
        {
            return null;
        }

        // A process that started during the window counts whole (all its time is in the window).
        var othersDelta = others.Sum(p => Math.Max(0, p.Value - _others.GetValueOrDefault(p.Key)));
        var busyShare = (double)(busy - _machineBusy) / totalDelta;
        var ownShare = (double)(own - _own) / totalDelta;
        var othersShare = Math.Min((double)othersDelta / totalDelta, Math.Max(0, 1 - ownShare));
        return new LoadSample(busyShare, ownShare, Math.Max(Math.Max(0, busyShare - ownShare), othersShare),
            othersShare, Stopwatch.GetElapsedTime(_started).TotalSeconds);
    }

    /// <summary>
    /// Busy and total clock ticks of all cores: the first line of /proc/stat. Busy is user, nice, system and steal
    /// (a hypervisor running someone else counts); interrupt and softirq time are left out of busy, because the
    /// bench's own loopback traffic is handled there and, with IRQ time accounting, is not charged to its processes.
    /// </summary>
    private static (long Busy, long Total) ReadMachine()
    {
        using var reader = new StreamReader("/proc/stat");
        var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        // cpu user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already in user.
        long Field(int i) => i < fields.Length ? long.Parse(fields[i], CultureInfo.InvariantCulture) : 0;
        long total = 0;
        for (var i = 1; i <= 8; i++)
        {
            total += Field(i);
        }

        return (Field(1) + Field(2) + Field(3) + Field(8), total);
    }

    /// <summary>Microseconds of one clock tick of /proc (USER_HZ is 100 on Linux).</summary>
    public const double TickMicroseconds = 10_000;

    /// <summary>User and system clock ticks of the processes (one that has exited counts 0).</summary>
    public static long ReadProcesses(params int[] pids) => pids.Sum(ReadProcess);

    /// <summary>The process and its children (nginx's master and workers), from /proc; just the pid when unknown.</summary>
    public static int[] WithChildren(int pid)
    {
        try
        {
            var children = File.ReadAllText($"/proc/{pid}/task/{pid}/children")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, CultureInfo.InvariantCulture));
            return [pid, .. children];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [pid];
        }
    }

    /// <summary>
    /// Per process other than <paramref name="own"/>: its ticks. (Reaped children's ticks are left out: they hold a
    /// child's whole life, most of it before the window.)
    /// </summary>
    private static Dictionary<int, long> ReadOthers(int[] own)
    {
        var ticks = new Dictionary<int, long>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && !own.Contains(pid))
            {
                ticks[pid] = ReadProcess(pid);
            }
        }

        return ticks;
    }

    private static long ReadProcess(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            // From there utime is the 12th and stime the 13th.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone, or not ours to read: nothing to add.
            return 0;
        }
    }
}

/// <summary>
/// One window's CPU shares of the whole machine (all cores): busy, the bench's own, everything else (the larger
/// estimate), and the other processes' CPU time alone.
/// </summary>
internal sealed record LoadSample(double Busy, double Own, double Other, double OtherProcesses, double Seconds);
