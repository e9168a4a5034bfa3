using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NetActors.Tests.Cluster.Fleet;

/// <summary>
/// One fleet member as a separate OS process (tests/NetActors.FleetMember, built with the tests), driven through
/// its stdin/stdout command channel. It can be killed (SIGKILL), frozen (SIGSTOP) and thawed (SIGCONT). Disposing
/// it always ends the process: gracefully when it still answers, killed otherwise, also when the test failed.
/// </summary>
public sealed class FleetMemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<string>> _pending = new();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    private FleetMemberProcess(Process process, string name, int port)
    {
        _process = process;
        Name = name;
        Port = port;
    }

    public string Name { get; }

    public int Port { get; }

    /// <summary>The member's Akka address, e.g. <c>akka.tcp://fleet@127.0.0.1:4053</c>.</summary>
    public string Address => $"akka.tcp://fleet@127.0.0.1:{Port}";

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The member's log lines (stderr), in order.</summary>
    public string Log => string.Join("\n", _log);

    /// <summary>How many log lines contain <paramref name="text"/>.</summary>
    public int LogCount(string text) => _log.Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>A free port on 127.0.0.1 for a member's Akka.Remote (seeds need fixed addresses).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts a member and waits until its actor system runs (it joins the cluster on its own, through its seeds).</summary>
    public static async Task<FleetMemberProcess> StartAsync(string name, int port, IEnumerable<string> seeds, Uri upstream,
        string store, IReadOnlyDictionary<string, string>? options = null)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(MemberDll());
        var arguments = new Dictionary<string, string>(options ?? new Dictionary<string, string>())
        {
            ["port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["seeds"] = string.Join(",", seeds),
            ["upstream"] = upstream.ToString(),
            ["store"] = store,
        };
        foreach (var (key, value) in arguments)
        {
            info.ArgumentList.Add("--" + key);
            info.ArgumentList.Add(value);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the fleet member");
        var member = new FleetMemberProcess(process, name, port);
        member.Pump();
        try
        {
            await member._ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await member.DisposeAsync();
            throw;
        }

        return member;
    }

    /// <summary>Sends a command and waits for its answer (without the id).</summary>
    public async Task<string> SendAsync(string command, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        await _process.StandardInput.WriteLineAsync($"{id} {command}");
        await _process.StandardInput.FlushAsync();
        try
        {
            return await answer.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not answer '{command}'. Its log:\n{Log}");
        }
    }

    /// <summary>The outcome counts of a burst or load answer (<c>done ok=.. fail=.. Type=..</c>).</summary>
    public static (int Ok, int Failed, string Answer) Counts(string answer)
    {
        Assert.StartsWith("done ", answer);
        var fields = answer.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(f => f[0], f => int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
        return (fields["ok"], fields["fail"], answer);
    }

    public async Task<Dictionary<string, string>> StatusAsync()
    {
        var answer = await SendAsync("status");
        return answer.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
    }

    public Task WaitUpAsync(int members) =>
        SendAsync($"wait-up {members}", TimeSpan.FromSeconds(70)).ContinueWith(t => Assert.Equal("up", t.Result), TaskScheduler.Default);

    /// <summary>SIGKILL: the process dies at once, without leaving the cluster.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends a POSIX signal by name (STOP, CONT) through kill(1).</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo(SignalFactAttribute.KillCommand!, $"-{name} {Pid}") { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Asks the member to stop gracefully (it leaves the cluster); completes when the process has exited.</summary>
    public async Task ExitAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            await _process.StandardInput.WriteLineAsync("exit");
            await _process.StandardInput.FlushAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                if (SignalFactAttribute.KillCommand is not null)
                {
                    Signal("CONT"); // a frozen member could not stop gracefully
                }

                await ExitAsync(TimeSpan.FromSeconds(20));
            }
        }
        catch (Exception)
        {
            // It did not stop in time, or no longer reads its input: it is killed below.
        }
        finally
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }

    private void Pump()
    {
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line || !line.StartsWith('@'))
            {
                return;
            }

            var space = line.IndexOf(' ');
            var id = int.Parse(line[1..space], System.Globalization.CultureInfo.InvariantCulture);
            var answer = line[(space + 1)..];
            if (id == 0)
            {
                _ready.TrySetResult(answer);
            }
            else if (_pending.TryRemove(id, out var pending))
            {
                pending.TrySetResult(answer);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                _log.Enqueue(line);
            }
        };
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{Name} exited. Its log:\n{Log}"));
        _process.EnableRaisingEvents = true;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The member program, built beside the tests (same configuration and target framework).</summary>
    private static string MemberDll()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var tests = testOutput.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "NetActors.FleetMember", "bin", configuration, framework, "NetActors.FleetMember.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("The fleet member program was not built with the tests (tests/NetActors.FleetMember).", dll);
        }

        return dll;
    }
}

/// <summary>
/// A process-level fleet test: needs Unix signals sent with kill(1) (SIGKILL, SIGSTOP, SIGCONT). Where they cannot
/// be sent it is reported as skipped, with the reason, never passed silently.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SignalFactAttribute : FactAttribute
{
    /// <summary>The kill(1) command, or null where there is none.</summary>
    public static string? KillCommand { get; } = OperatingSystem.IsWindows()
        ? null
        : new[] { "/bin/kill", "/usr/bin/kill" }.FirstOrDefault(File.Exists);

    public SignalFactAttribute()
    {
        if (KillCommand is null)
        {
            Skip = "process-level fleet test: needs POSIX signals (SIGKILL, SIGSTOP, SIGCONT) sent with kill(1), " +
                "which this platform does not have";
        }
    }
}
