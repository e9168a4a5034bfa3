using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NetActors.Benchmarks.Strict;

/// <summary>What an out-of-process upstream tells the bench on its first stdout line (after "UPSTREAM ").</summary>
internal sealed record UpstreamInfo(
    string Kind,
    string BaseAddress,
    int[] OriginPorts,
    string BenchAccessToken,
    string BenchRefreshToken,
    int Pid);

/// <summary>
/// The upstream kinds: <c>inproc</c> (Kestrel in the worker process, as in the typical-app benchmark), <c>process</c>
/// (the same Kestrel endpoints in a process of their own: <c>--serve</c>) and <c>nginx</c> (static files; only the
/// plain GET scenarios, and only when nginx is installed).
/// </summary>
internal static class Upstreams
{
    public const string InProcess = "inproc";
    public const string Process = "process";
    public const string Nginx = "nginx";

    /// <summary>The environment variable through which a worker gets an out-of-process upstream's <see cref="UpstreamInfo"/>.</summary>
    public const string InfoVariable = "NETACTORS_BENCH_UPSTREAM";

    public const string LinePrefix = "UPSTREAM ";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // A figure that does not apply (the in-process upstream's own CPU) is NaN.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// <c>--serve [--origins N]</c>: the bench server on 127.0.0.1 (free ports), its <see cref="UpstreamInfo"/> on
    /// stdout, until stdin closes.
    /// </summary>
    public static async Task<int> ServeAsync(int origins, bool fail)
    {
        if (fail)
        {
            // --inject-failure upstream: shows how the bench reports an upstream that dies at start.
            Console.Error.WriteLine("upstream: failing on purpose (--inject-failure upstream)");
            return 3;
        }

        var server = await BenchServer.StartAsync(origins);
        try
        {
            var info = new UpstreamInfo(Process, server.BaseAddress.ToString(), [.. server.OriginPorts],
                server.BenchAccessToken, server.BenchRefreshToken, Environment.ProcessId);
            Console.WriteLine(LinePrefix + JsonSerializer.Serialize(info, Json));
            await Task.Run(() =>
            {
                while (Console.In.ReadLine() is not null)
                {
                    // Only the end of stdin matters: the bench has finished, or died.
                }
            });
        }
        finally
        {
            await server.DisposeAsync();
        }

        return 0;
    }
}

/// <summary>The upstream in another process, as a worker sees it: counters and storm sessions over /__bench.</summary>
internal sealed class RemoteUpstream : IUpstream, IDisposable
{
    private readonly HttpClient _control;

    public RemoteUpstream(UpstreamInfo info)
    {
        Info = info;
        BaseAddress = new Uri(info.BaseAddress);
        _control = new HttpClient { BaseAddress = new Uri(BaseAddress, BenchServer.ControlPath + "/") };
    }

    public UpstreamInfo Info { get; }

    public Uri BaseAddress { get; }

    public IReadOnlyList<int> OriginPorts => Info.OriginPorts;

    public string BenchAccessToken => Info.BenchAccessToken;

    public string BenchRefreshToken => Info.BenchRefreshToken;

    public async Task<UpstreamCounters> CountersAsync() =>
        await _control.GetFromJsonAsync<UpstreamCounters>("counters", Upstreams.Json)
        ?? throw new InvalidOperationException("the upstream answered no counters");

    public async Task ResetMaxConcurrencyAsync()
    {
        using var response = await _control.PostAsync("reset-max", null);
        response.EnsureSuccessStatusCode();
    }

    public async Task<(string StaleAccessToken, string RefreshToken)> StartStormSessionAsync()
    {
        using var response = await _control.PostAsync("storm-session", null);
        response.EnsureSuccessStatusCode();
        var tokens = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>(Upstreams.Json)
                     ?? throw new InvalidOperationException("the upstream answered no storm session");
        return (tokens["stale"], tokens["refresh"]);
    }

    public void Dispose() => _control.Dispose();
}

/// <summary>The bench's side of an out-of-process upstream (Kestrel or nginx): started once per run, stopped when it ends.</summary>
internal interface IUpstreamProcess : IAsyncDisposable
{
    /// <summary>What the workers get, as JSON in their environment.</summary>
    string Json { get; }

    /// <summary>Its processes now, counted as the bench's own in the noise accounting.</summary>
    int[] Pids { get; }

    /// <summary>Whether it is still running (checked after every round: a dead upstream fails the run clearly).</summary>
    bool IsAlive { get; }

    /// <summary>The last lines it logged, for a failure report.</summary>
    string StderrTail { get; }
}

/// <summary>The bench server in a process of its own (<c>--serve</c>).</summary>
internal sealed class UpstreamProcess : IUpstreamProcess
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    private readonly ChildProcess _child;

    private UpstreamProcess(ChildProcess child, UpstreamInfo info, string json)
    {
        _child = child;
        Info = info;
        Json = json;
    }

    public UpstreamInfo Info { get; }

    /// <summary>The <see cref="UpstreamInfo"/> as JSON, for the workers' environment.</summary>
    public string Json { get; }

    public int Pid => _child.Pid;

    public int[] Pids => [Pid];

    public bool IsAlive
    {
        get
        {
            try
            {
                return !System.Diagnostics.Process.GetProcessById(Pid).HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    public string StderrTail => _child.StderrTail;

    /// <summary>Starts <c>--serve</c> with server GC and waits for its info line.</summary>
    public static async Task<UpstreamProcess> StartAsync(int origins, bool fail)
    {
        List<string> args = ["--serve", "--origins", origins.ToString()];
        if (fail)
        {
            args.AddRange(["--inject-failure", "upstream"]);
        }

        var child = ChildProcess.Start("upstream (--serve)", args, new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" });
        try
        {
            var json = await child.WaitForLineAsync(Upstreams.LinePrefix, StartLimit);
            var info = JsonSerializer.Deserialize<UpstreamInfo>(json, Upstreams.Json)
                       ?? throw new ChildFailedException($"upstream: unreadable info line: {json}");
            return new UpstreamProcess(child, info, json);
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}
