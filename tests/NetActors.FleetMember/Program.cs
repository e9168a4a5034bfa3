using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetActors;
using NetActors.Auth;
using NetActors.Cluster;
using NetActors.Hosting;

// One member of a NetActors fleet, for the process-level cluster tests. It runs one client "api" on the upstream
// (bearer auth through the upstream's /auth/refresh, the file token store shared by the members), joins the
// cluster through the seed nodes, and answers line commands on stdin, each "<id> <command>", with one line on
// stdout "@<id> <answer>" (commands run concurrently, so answers may come in any order):
//   wait-up <n>                    @up | @timeout          (this member sees n members Up)
//   signin <access> <refresh> <expires-unix-seconds | ->   @ok <version> | @error <type> <message>
//   burst <n> <path>               @done ok=<n> fail=<n> [<error type>=<n> ...]   (n requests at once)
//   load <per-second> <seconds> <path>                      @done ...            (paced, each its own path)
//   status                         @status joined=<bool> singleton=<address|none> shares=<n> self=<address>
//   exit                           stops the host gracefully (leaves the cluster), then the process exits
// Log lines of level Information and above go to stderr, one per line.
var options = Args.Parse(args);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Information).AddProvider(new StderrLogger());
builder.Services.AddNetActors(net => net.AddClient("api", c => c
        .WithBaseAddress(options["upstream"]).WithMaxConnections(6).WithQueueCapacity(5000)
        .WithRateLimit(double.Parse(options.GetValueOrDefault("rate", "0"), System.Globalization.CultureInfo.InvariantCulture))
        .WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh").WithFileTokenStore(options["store"]))),
    "fleet", (akka, _) =>
    {
        akka.AddHocon("""
            akka.loglevel = INFO
            akka.stdout-loglevel = OFF
            akka.cluster.log-info = off
            """, HoconAddMode.Prepend);
        akka.WithNetActorsCluster(o =>
        {
            o.Hostname = "127.0.0.1";
            o.Port = int.Parse(options["port"], System.Globalization.CultureInfo.InvariantCulture);
            o.SeedNodes = options["seeds"].Split(',', StringSplitOptions.RemoveEmptyEntries);
            if (options.TryGetValue("stable-after", out var stable))
            {
                o.SplitBrainStableAfter = TimeSpan.FromMilliseconds(double.Parse(stable, System.Globalization.CultureInfo.InvariantCulture));
            }

            if (options.TryGetValue("removal-margin", out var margin))
            {
                o.DownRemovalMargin = TimeSpan.FromMilliseconds(double.Parse(margin, System.Globalization.CultureInfo.InvariantCulture));
            }
        });
    });
using var host = builder.Build();
await host.StartAsync();
var system = host.Services.GetRequiredService<ActorSystem>();
var client = host.Services.GetRequiredService<INetClient>();
var stopping = new TaskCompletionSource();
_ = system.WhenTerminated.ContinueWith(_ => stopping.TrySetResult(), TaskScheduler.Default);
Reply("0 ready " + Cluster.Get(system).SelfAddress);

var commands = Task.Run(async () =>
{
    while (await Console.In.ReadLineAsync() is { } line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            continue;
        }

        if (words[0] == "exit" || words.Length < 2)
        {
            break;
        }

        // Each command runs on its own: a load on one member does not hold up its status.
        _ = Task.Run(async () => Reply(words[0] + " " + await RunAsync(words[1..])));
    }
});
await Task.WhenAny(commands, stopping.Task);
var stopped = Stopwatch.StartNew();
await host.StopAsync(TimeSpan.FromSeconds(30));
Console.Error.WriteLine($"fleet-member: stopped in {stopped.ElapsedMilliseconds} ms");
return 0;

async Task<string> RunAsync(string[] words)
{
    try
    {
        switch (words[0])
        {
            case "wait-up":
                var want = int.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture);
                var until = Stopwatch.StartNew();
                while (Cluster.Get(system).State.Members.Count(m => m.Status == MemberStatus.Up) != want)
                {
                    if (until.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        return "timeout";
                    }

                    await Task.Delay(50); // polling the membership
                }

                return "up";
            case "signin":
                DateTimeOffset? expires = words[3] == "-" ? null : DateTimeOffset.FromUnixTimeSeconds(long.Parse(words[3], System.Globalization.CultureInfo.InvariantCulture));
                var version = await client.SignInAsync("api", new TokenSet(words[1], words[2], expires));
                return "ok " + version;
            case "burst":
                var n = int.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture);
                return Summary(await Task.WhenAll(Enumerable.Range(0, n).Select(i => Outcome(client.SendAsync(NetRequest.Get("api", $"{words[2]}/{i}"))))));
            case "load":
                var perSecond = double.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture);
                var total = (int)(perSecond * double.Parse(words[2], System.Globalization.CultureInfo.InvariantCulture));
                var sent = new List<Task<string?>>();
                using (var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / perSecond)))
                {
                    for (var i = 0; i < total && await timer.WaitForNextTickAsync(); i++)
                    {
                        sent.Add(Outcome(client.SendAsync(NetRequest.Get("api", $"{words[3]}/{i}"))));
                    }
                }

                return Summary(await Task.WhenAll(sent));
            case "status":
                var status = NetActorsClusterStatus.Get(system);
                return $"status joined={status.Joined} singleton={status.SingletonMember?.ToString() ?? "none"} shares={status.ShareCount} self={status.Self}";
            default:
                return "error unknown-command " + words[0];
        }
    }
    catch (Exception e)
    {
        return $"error {e.GetType().Name} {e.Message.ReplaceLineEndings(" ")}";
    }
}

static async Task<string?> Outcome(Task<NetResponse> request)
{
    try
    {
        var response = await request;
        return (int)response.StatusCode < 400 ? null : "Status" + (int)response.StatusCode;
    }
    catch (Exception e)
    {
        return e.GetType().Name;
    }
}

static string Summary(string?[] outcomes) =>
    $"done ok={outcomes.Count(o => o is null)} fail={outcomes.Count(o => o is not null)}" +
    string.Concat(outcomes.Where(o => o is not null).GroupBy(o => o).Select(g => $" {g.Key}={g.Count()}"));

static void Reply(string line)
{
    lock (Console.Out)
    {
        Console.Out.WriteLine("@" + line);
        Console.Out.Flush();
    }
}

/// <summary>The member's command-line options: <c>--name value</c> pairs.</summary>
internal static class Args
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        return options;
    }
}

/// <summary>Writes each log line to stderr (the test collects them), never to stdout (the command channel).</summary>
internal sealed class StderrLogger : ILoggerProvider, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Console.Error.WriteLine($"{logLevel}: {formatter(state, exception).ReplaceLineEndings(" ")} {exception?.GetType().Name}");
        }
    }

    public void Dispose()
    {
    }
}
