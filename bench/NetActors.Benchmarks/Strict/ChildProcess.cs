using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// A process of this bench program (a strict worker or the upstream) started by the bench: its stdin stays open
/// for as long as the bench wants it alive (the child exits when it closes, so it never outlives the bench,
/// even when the bench is killed), stdout is read line by line, and the last lines of stderr are kept for the
/// report when it fails. Disposing closes stdin, waits a little, then kills the process tree.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int StderrLinesKept = 4;
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stderrTail = new();
    private readonly List<string> _stdout = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<string>? _waitedLine;
    private string? _waitedPrefix;

    static ChildProcess()
    {
        // Ctrl-C or a normal exit of the bench: no child is left behind (a SIGKILL is covered by the closed stdin).
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
    }

    private ChildProcess(Process process, string role)
    {
        _process = process;
        Role = role;
    }

    /// <summary>What it is, for messages: "upstream", "worker lean-raw 6/6 round 2".</summary>
    public string Role { get; }

    public int Pid => _process.Id;

    /// <summary>The last lines it wrote to stderr, joined, for a failure report.</summary>
    public string StderrTail => string.Join(" | ", _stderrTail);

    /// <summary>Starts this bench program with <paramref name="args"/> and the extra environment variables.</summary>
    public static ChildProcess Start(string role, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Run as an apphost (dotnet run, bin/.../NetActors.Benchmarks) or as `dotnet NetActors.Benchmarks.dll`.
        var host = Environment.ProcessPath ?? "dotnet";
        info.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var child = new ChildProcess(process, role);
        process.OutputDataReceived += (_, e) => child.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnStderr(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"{role}: could not start {host}");
        }

        Live[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// The rest of the first stdout line that starts with <paramref name="prefix"/>; fails with the exit code and
    /// the stderr tail if the process ends first, or when <paramref name="timeout"/> passes.
    /// </summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        TaskCompletionSource<string> waited;
        lock (_lock)
        {
            var seen = _stdout.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (seen is not null)
            {
                return seen[prefix.Length..];
            }

            waited = _waitedLine = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitedPrefix = prefix;
        }

        var first = await Task.WhenAny(waited.Task, _stdoutClosed.Task, Task.Delay(timeout));
        if (first == waited.Task)
        {
            return await waited.Task;
        }

        if (first == _stdoutClosed.Task)
        {
            // Give the exit code a moment to be known.
            await _process.WaitForExitAsync().WaitAsync(ExitGrace).ContinueWith(_ => { }, TaskScheduler.Default);
            throw new ChildFailedException($"{Role} ended without a '{prefix.Trim()}' line " +
                                           $"(exit code {ExitCodeText()}); stderr: {StderrTail}");
        }

        throw new ChildFailedException($"{Role} gave no '{prefix.Trim()}' line within {timeout.TotalSeconds:0} s " +
                                       $"(it is killed); stderr: {StderrTail}");
    }

    /// <summary>Waits for it to exit by itself (bounded) and returns the exit code, or null if it had to be killed.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return _process.ExitCode;
        }
        catch (TimeoutException)
        {
            Kill();
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                await _process.WaitForExitAsync().WaitAsync(ExitGrace);
            }
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
            Kill();
        }
        finally
        {
            Live.TryRemove(_process.Id, out _);
            _process.Dispose();
        }
    }

    private static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private string ExitCodeText() => _process.HasExited ? _process.ExitCode.ToString() : "none yet";

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _stdoutClosed.TrySetResult();
            return;
        }

        lock (_lock)
        {
            _stdout.Add(line);
            if (_waitedPrefix is not null && line.StartsWith(_waitedPrefix, StringComparison.Ordinal))
            {
                _waitedLine!.TrySetResult(line[_waitedPrefix.Length..]);
                _waitedPrefix = null;
            }
        }
    }

    private void OnStderr(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        _stderrTail.Enqueue(line.Trim());
        while (_stderrTail.Count > StderrLinesKept)
        {
            _stderrTail.TryDequeue(out _);
        }
    }
}

/// <summary>A child process failed: the message says which, how, and what it wrote to stderr last.</summary>
internal sealed class ChildFailedException(string message) : Exception(message);

/// <summary>In a child: exits when the bench closes our stdin (or dies), so no child outlives the bench.</summary>
internal static class ParentWatch
{
    /// <summary>Exit code of a child whose bench went away.</summary>
    public const int OrphanedExitCode = 70;

    public static void ExitWhenStdinCloses(Action? beforeExit = null)
    {
        var thread = new Thread(() =>
        {
            try
            {
                while (Console.In.ReadLine() is not null)
                {
                    // Nothing is sent on stdin: only its end matters.
                }
            }
            catch (IOException)
            {
                // Closed as well.
            }

            beforeExit?.Invoke();
            Environment.Exit(OrphanedExitCode);
        })
        {
            IsBackground = true,
            Name = "parent-watch",
        };
        thread.Start();
    }
}
