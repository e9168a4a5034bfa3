using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// <c>--upstream nginx</c>, the bench's side: nginx (the machine's own binary) in a fresh temp prefix directory
/// with a config the bench writes: <c>daemon off</c>, one worker process, pid file and error log in the directory,
/// no access log, 127.0.0.1 on a free port the bench picked, keep-alive generous enough that the clients'
/// connection pools are what is measured, the static file <c>small</c> (the same bytes as Kestrel's GET /small,
/// whatever the query string) and <c>stub_status</c> at <see cref="NginxUpstream.StatusPath"/> (127.0.0.1 only).
/// Stopped by SIGQUIT to the pid in its pid file, SIGKILL (master and workers) if it has not exited within
/// <see cref="StopGrace"/>; also when the bench exits or is interrupted, and by a watchdog shell whose stdin is
/// the bench's (it ends when the bench dies, even by SIGKILL), so no nginx outlives the bench.
/// </summary>
internal sealed class NginxProcess : IUpstreamProcess
{
    public const string Program = "nginx";

    private const int Sigkill = 9;
    private const int Sigquit = 3;
    private const int StartAttempts = 5;
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);
    private static readonly List<NginxProcess> Live = [];

    // The watchdog: waits for the end of its stdin (the bench's pipe), then stops nginx as the bench would have.
    private const string WatchdogScript = """
        while read -r _; do :; done
        kids=$(cat /proc/$1/task/$1/children 2>/dev/null)
        kill -QUIT $1 2>/dev/null || { rm -rf "$2"; exit 0; }
        i=0
        while kill -0 $1 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        if kill -0 $1 2>/dev/null; then kill -KILL $1 $kids 2>/dev/null; fi
        rm -rf "$2"
        """;

    private readonly Process _master;
    private readonly Process _watchdog;
    private readonly string _directory;
    private int _stopped;

    // SIGTERM and SIGHUP end the process without the exit handlers unless someone handles them: stop nginx first.
    private static readonly PosixSignalRegistration[] SignalRegistrations =
        [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(s => PosixSignalRegistration.Create(s, _ => StopAll()))];

    static NginxProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
        Console.CancelKeyPress += (_, _) => StopAll();
    }

    private NginxProcess(Process master, Process watchdog, string directory, UpstreamInfo info, string version)
    {
        _master = master;
        _watchdog = watchdog;
        _directory = directory;
        Info = info;
        Json = JsonSerializer.Serialize(info, Upstreams.Json);
        Version = version;
    }

    public UpstreamInfo Info { get; }

    public string Json { get; }

    /// <summary>What <c>nginx -v</c> said, for the report.</summary>
    public string Version { get; }

    /// <summary>The master's pid, from its pid file.</summary>
    public int MasterPid => Info.Pid;

    /// <summary>The master and its workers, now.</summary>
    public int[] Pids => MachineLoad.WithChildren(MasterPid);

    public bool IsAlive => !_master.HasExited;

    /// <summary>The last lines of its error log.</summary>
    public string StderrTail => ErrorLogTail(_directory);

    /// <summary>nginx on PATH (or in /usr/sbin, which a non-root PATH may lack), or null.</summary>
    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/sbin")
        .Select(d => Path.Combine(d, Program)).FirstOrDefault(File.Exists);

    /// <summary>Writes the prefix directory and starts nginx on a free port, retrying on a port taken meanwhile.</summary>
    public static async Task<NginxProcess> StartAsync(string nginx, bool fail)
    {
        var version = await VersionAsync(nginx);
        var directory = System.IO.Directory.CreateTempSubdirectory("netactors-nginx-").FullName;
        try
        {
            // Workers run as nobody when the master is root: they must reach the root directory.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
            }

            System.IO.Directory.CreateDirectory(Path.Combine(directory, "html"));
            System.IO.Directory.CreateDirectory(Path.Combine(directory, "tmp"));
            await File.WriteAllBytesAsync(Path.Combine(directory, "html", "small"), BenchServer.SmallBody);
            for (var attempt = 1; ; attempt++)
            {
                var port = FreePort();

                // --inject-failure upstream: a directive nginx does not know, so it fails at start.
                await File.WriteAllTextAsync(Path.Combine(directory, "nginx.conf"),
                    (fail ? "netactors_fail_on_purpose on;\n" : "") + Config(directory, port));
                var started = await TryStartAsync(nginx, directory, port, version);
                if (started is not null)
                {
                    return started;
                }

                var log = ErrorLogTail(directory);
                if (attempt >= StartAttempts || !log.Contains("Address already in use", StringComparison.Ordinal))
                {
                    throw new ChildFailedException($"nginx did not start (attempt {attempt}); error log: {log}");
                }
            }
        }
        catch
        {
            TryDelete(directory);
            throw;
        }
    }

    /// <summary>The bench's nginx.conf for a prefix directory and port.</summary>
    public static string Config(string directory, int port) => $$"""
        # Written by the NetActors strict bench (--upstream nginx); started with -p {{directory}}/ -c nginx.conf.
        daemon off;
        master_process on;
        worker_processes 1;
        pid {{directory}}/nginx.pid;
        error_log {{directory}}/error.log warn;

        events {
            worker_connections 4096;
        }

        http {
            access_log off;
            client_body_temp_path {{directory}}/tmp/body;
            proxy_temp_path {{directory}}/tmp/proxy;
            fastcgi_temp_path {{directory}}/tmp/fastcgi;
            uwsgi_temp_path {{directory}}/tmp/uwsgi;
            scgi_temp_path {{directory}}/tmp/scgi;

            # Keep-alive never closes a connection during a run: the clients' pools are what is measured.
            keepalive_requests 1000000000;
            keepalive_timeout 60s;
            server_tokens off;

            server {
                listen 127.0.0.1:{{port}} backlog=4096;
                root {{directory}}/html;

                # GET /small?n=i: the static file, whatever the query string; the bearer token is ignored.
                location = /small {
                    default_type application/json;
                }

                location = {{NginxUpstream.StatusPath}} {
                    stub_status;
                    allow 127.0.0.1;
                    deny all;
                }

                location / {
                    return 404;
                }
            }
        }
        """;

    /// <summary>Stops nginx: SIGQUIT to the pid in its pid file, SIGKILL to the master and workers after the grace.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.Run(Stop);
        lock (Live)
        {
            Live.Remove(this);
        }
    }

    private static async Task<NginxProcess?> TryStartAsync(string nginx, string directory, int port, string version)
    {
        var info = new ProcessStartInfo(nginx)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-p", directory + "/", "-c", Path.Combine(directory, "nginx.conf"), "-e", Path.Combine(directory, "error.log") })
        {
            info.ArgumentList.Add(arg);
        }

        var master = Process.Start(info) ?? throw new ChildFailedException($"could not start {nginx}");
        master.OutputDataReceived += (_, _) => { };
        master.ErrorDataReceived += (_, _) => { };
        master.BeginOutputReadLine();
        master.BeginErrorReadLine();
        Process? watchdog = null;
        try
        {
            watchdog = StartWatchdog(master.Id, directory);
            var baseAddress = new Uri($"http://127.0.0.1:{port}/");
            if (!await WaitUntilServingAsync(master, baseAddress))
            {
                Stop(master, watchdog, master.Id);
                return null;
            }

            var pidFile = Path.Combine(directory, "nginx.pid");
            var pid = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), CultureInfo.InvariantCulture);
            if (pid != master.Id)
            {
                throw new ChildFailedException($"nginx: the pid file says {pid}, the started master is {master.Id}");
            }

            // The bearer token the clients send is ignored: static files.
            var started = new NginxProcess(master, watchdog, directory,
                new UpstreamInfo(Upstreams.Nginx, baseAddress.ToString(), [], "nginx-ignores-the-token",
                    "nginx-ignores-the-token", pid), version);
            lock (Live)
            {
                Live.Add(started);
            }

            return started;
        }
        catch
        {
            Stop(master, watchdog, master.Id);
            throw;
        }
    }

    private static Process StartWatchdog(int masterPid, string directory)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-c", WatchdogScript, "nginx-watchdog", masterPid.ToString(CultureInfo.InvariantCulture), directory })
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new ChildFailedException("could not start the nginx watchdog (/bin/sh)");
    }

    /// <summary>Until GET /small answers the body, or nginx exits (false), or the start limit passes (false).</summary>
    private static async Task<bool> WaitUntilServingAsync(Process master, Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(StartLimit.TotalSeconds * Stopwatch.Frequency);
        while (!master.HasExited && Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                var body = await http.GetByteArrayAsync("small?n=0");
                if (body.AsSpan().SequenceEqual(BenchServer.SmallBody))
                {
                    return true;
                }

                throw new ChildFailedException($"nginx serves {body.Length} bytes at /small, not the bench's body");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(50);
            }
        }

        return false;
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        var pid = ReadPidFile() ?? _master.Id;
        Console.Error.WriteLine($"upstream nginx: stopping (SIGQUIT to {pid}, from its pid file)");
        Stop(_master, _watchdog, pid);
        TryDelete(_directory);
    }

    /// <summary>
    /// SIGQUIT, then SIGKILL to the master and workers after the grace. Synchronous and from /proc alone (a zombie
    /// counts as gone), because it also runs in the exit handlers, where the runtime's child tracking may not.
    /// </summary>
    private static void Stop(Process master, Process? watchdog, int pid)
    {
        try
        {
            var pids = MachineLoad.WithChildren(pid);
            if (!pids.All(Gone))
            {
                _ = kill(pid, Sigquit);
                var deadline = Stopwatch.GetTimestamp() + (long)(StopGrace.TotalSeconds * Stopwatch.Frequency);
                while (!pids.All(Gone) && Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.Sleep(20);
                }

                if (!pids.All(Gone))
                {
                    Console.Error.WriteLine($"upstream nginx: still running {StopGrace.TotalSeconds:0} s after SIGQUIT, killed");
                    foreach (var p in pids)
                    {
                        _ = kill(p, Sigkill);
                    }
                }
            }
        }
        finally
        {
            master.WaitForExit(1_000);
            master.Dispose();
            if (watchdog is not null)
            {
                // nginx is gone: the watchdog (a shell blocked in `read`, no children yet) has nothing left to stop.
                try
                {
                    watchdog.Kill();
                    watchdog.WaitForExit(1_000);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }

                watchdog.Dispose();
            }
        }
    }

    /// <summary>Whether a process has exited (no longer in /proc, or a zombie waiting to be reaped).</summary>
    private static bool Gone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static void StopAll()
    {
        NginxProcess[] live;
        lock (Live)
        {
            live = [.. Live];
        }

        foreach (var nginx in live)
        {
            nginx.Stop();
        }
    }

    private int? ReadPidFile()
    {
        try
        {
            return int.Parse(File.ReadAllText(Path.Combine(_directory, "nginx.pid")).Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return null;
        }
    }

    private static async Task<string> VersionAsync(string nginx)
    {
        var info = new ProcessStartInfo(nginx, "-v") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new ChildFailedException($"could not start {nginx} -v");
        var text = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return text.Replace("nginx version:", "", StringComparison.Ordinal).Trim();
    }

    /// <summary>A port free on 127.0.0.1 now (bound to port 0, read, closed; a start that finds it taken retries).</summary>
    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static string ErrorLogTail(string directory)
    {
        try
        {
            return string.Join(" | ", File.ReadLines(Path.Combine(directory, "error.log")).TakeLast(4));
        }
        catch (IOException)
        {
            return "(no error log)";
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left in the temp directory: harmless.
        }
    }

#pragma warning disable SA1300, IDE1006 // libc's name
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
#pragma warning restore SA1300, IDE1006
}

/// <summary>
/// nginx as a worker sees it: the GET scenarios only. Its counters come from stub_status (requests, open and
/// accepted connections); what nginx cannot count (the maximum concurrency, the storm's refreshes and 401s) is
/// null, and there are no storm sessions.
/// </summary>
internal sealed class NginxUpstream : IUpstream, IDisposable
{
    public const string StatusPath = "/nginx_status";

    private readonly HttpClient _status;
    private long _statusRequests;

    public NginxUpstream(UpstreamInfo info)
    {
        Info = info;
        BaseAddress = new Uri(info.BaseAddress);
        _status = new HttpClient { BaseAddress = BaseAddress };
    }

    public UpstreamInfo Info { get; }

    public Uri BaseAddress { get; }

    public IReadOnlyList<int> OriginPorts => [];

    public string BenchAccessToken => Info.BenchAccessToken;

    public string BenchRefreshToken => Info.BenchRefreshToken;

    /// <summary>
    /// stub_status's counters. Its request count includes the status requests themselves: this reader's are taken
    /// off (the one being made too), so the difference between two readings is what the clients sent; its active
    /// connections include this reader's own.
    /// </summary>
    public async Task<UpstreamCounters> CountersAsync()
    {
        var made = Interlocked.Increment(ref _statusRequests);
        var text = await _status.GetStringAsync(StatusPath);

        // Active connections: 1
        // server accepts handled requests
        //  12 12 345
        // Reading: 0 Writing: 1 Waiting: 0
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length < 3 || !lines[0].StartsWith("Active connections:", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"nginx: unreadable stub_status: {text}");
        }

        var active = int.Parse(lines[0]["Active connections:".Length..].Trim(), CultureInfo.InvariantCulture);
        var numbers = lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => long.Parse(n, CultureInfo.InvariantCulture)).ToArray();
        return new UpstreamCounters(numbers[2] - made, null, active, numbers[0], null, null, null);
    }

    /// <summary>nginx keeps no maximum: nothing to reset.</summary>
    public Task ResetMaxConcurrencyAsync() => Task.CompletedTask;

    public Task<(string StaleAccessToken, string RefreshToken)> StartStormSessionAsync() =>
        throw new NotSupportedException("the nginx upstream serves the GET scenarios only");

    public void Dispose() => _status.Dispose();
}
