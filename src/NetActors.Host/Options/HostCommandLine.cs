using Microsoft.Extensions.Configuration;

namespace NetActors.Host.Options;

/// <summary>
/// The host's command line and configuration sources, in .NET's usual order (later wins): appsettings.json,
/// appsettings.{Environment}.json, the file named by <c>--settings</c>, environment variables, the command line.
/// </summary>
internal static class HostCommandLine
{
    /// <summary>Short options and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["--mode"] = "Run:Mode",
        ["--duration"] = "Run:Duration",
        ["--rate"] = "Run:Rate",
        ["--concurrency"] = "Run:Concurrency",
        ["--seed"] = "Run:Seed",
        ["--progress"] = "Run:Progress",
        ["--hocon"] = "Run:Hocon",
        ["--settings"] = "Run:Settings",
        ["--requests"] = "Demo:BurstRequests",
        ["--token-lifetime"] = "Demo:TokenLifetime",
        ["--fault-rate"] = "Demo:FaultRate",
        ["--client"] = "Workload:Client",
        ["--base-address"] = "Workload:BaseAddress",
    };

    private static readonly string[] Sections = ["Run", "Demo", "Workload", "NetActors"];

    /// <summary>Whether the arguments ask for the help text.</summary>
    public static bool WantsHelp(IEnumerable<string> args) => args.Any(a => a is "--help" or "-h" or "-?" or "/?");

    /// <summary>
    /// Builds the configuration. Flags without a value (<c>--verbose</c>) are turned into keys; an unknown option
    /// or a stray argument is a <see cref="HostConfigurationException"/>.
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <param name="baseDirectory">Where appsettings.json is looked for.</param>
    /// <param name="environment">Environment variables to use (null: the process's).</param>
    public static IConfigurationRoot Build(string[] args, string baseDirectory, IDictionary<string, string?>? environment = null)
    {
        var normalized = Normalize(args);
        var first = Sources(baseDirectory, null, normalized, environment).Build();
        if (first["Run:Settings"] is not { Length: > 0 } settings)
        {
            return first;
        }

        var path = Path.GetFullPath(settings);
        if (!File.Exists(path))
        {
            throw new HostConfigurationException([$"Run:Settings: the file '{path}' does not exist."]);
        }

        try
        {
            return Sources(baseDirectory, path, normalized, environment).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            throw new HostConfigurationException([$"Run:Settings: '{path}' is not valid JSON: {e.Message}"]);
        }
    }

    private static IConfigurationBuilder Sources(string baseDirectory, string? settingsFile, string[] args,
        IDictionary<string, string?>? environment)
    {
        var builder = new ConfigurationBuilder().SetBasePath(baseDirectory);
        var name = environment is null
            ? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production"
            : environment.TryGetValue("DOTNET_ENVIRONMENT", out var env) && env is not null ? env : "Production";
        builder.AddJsonFile("appsettings.json", optional: true).AddJsonFile($"appsettings.{name}.json", optional: true);
        if (settingsFile is not null)
        {
            builder.AddJsonFile(settingsFile, optional: false);
        }

        if (environment is null)
        {
            builder.AddEnvironmentVariables();
        }
        else
        {
            builder.AddInMemoryCollection(environment.Select(e => new KeyValuePair<string, string?>(e.Key.Replace("__", ":"), e.Value)));
        }

        return builder.AddCommandLine(args, Switches.ToDictionary(s => s.Key, s => s.Value));
    }

    private static string[] Normalize(string[] args)
    {
        var result = new List<string>();
        var problems = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "--verbose" or "-v")
            {
                result.Add("--Run:Verbose=true");
                continue;
            }

            if (arg is "--no-progress")
            {
                result.Add("--Run:Progress=off");
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                problems.Add($"unexpected argument '{arg}' (options start with --; see --help).");
                continue;
            }

            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? arg : arg[..eq];
            var known = Switches.ContainsKey(name) ||
                        Sections.Any(s => name.StartsWith("--" + s + ":", StringComparison.OrdinalIgnoreCase));
            if (!known)
            {
                problems.Add($"unknown option '{name}' (see --help).");
            }

            result.Add(arg);
            if (eq < 0)
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    problems.Add($"option '{name}' needs a value.");
                    continue;
                }

                result.Add(args[++i]);
            }
        }

        if (problems.Count > 0)
        {
            throw new HostConfigurationException(problems);
        }

        return result.ToArray();
    }

    /// <summary>The <c>--help</c> text.</summary>
    public const string Help = """
        NetActors host: the NetActors runtime in a generic host.

        Usage: dotnet run --project src/NetActors.Host [-- options]

        Without options it runs the demo. An upstream on 127.0.0.1 (three origins on free ports, in this process)
        behaves like a real API: JWT access tokens that live a few seconds, rotating refresh tokens, 5xx, resets
        and slow answers now and then, a rate-limited search (429 + Retry-After), reference data with ETags, cursor
        and Link-header pages, uploads, feature flags. Through the runtime it first sends the seed article's startup
        burst (many requests at once with an expired token, cap 6), then a mixed workload. A progress line every
        second; a summary at the end. Exit code 0 when every invariant held, 1 when one broke (the reason is printed),
        2 when the configuration is invalid.

        With a workload in the configuration (Workload:Endpoints, or --mode workload) it calls your API instead:
        the endpoints by weight, at a rate, for a duration, and reports the same way.

        Options:
          --mode demo|workload     what to run (default: workload if Workload:Endpoints is set, else demo)
          --duration 20s           how long the (mixed) workload runs (demo 20s, workload 30s)
          --rate 60                operations started per second (demo 60, workload 10; 0 = as fast as allowed)
          --concurrency 64         operations in progress at most (demo 64, workload 8)
          --seed 42                seeds faults, flags and choices (runs repeat)
          --requests 60            demo: requests in the startup burst
          --token-lifetime 5s      demo: access-token lifetime
          --fault-rate 0.08        demo: share of requests that fail or are slow
          --client api             workload: the NetActors client to send through
          --base-address URL       workload: the client's base address
          --hocon FILE             runtime settings (default: netactors.hocon next to the program)
          --settings FILE          a JSON settings file on top of appsettings.json
          --progress 1s|off        time between progress lines
          --no-progress            no progress lines
          --verbose                log every request, retry and refresh
          --help                   this text
          --Section:Key=value      any configuration key, e.g. --Workload:Endpoints:0:Path=/users/me

        Configuration (later wins): netactors.hocon < appsettings.json < appsettings.{DOTNET_ENVIRONMENT}.json
        < --settings FILE < environment variables (Workload__Rate=20) < command line.
          Run:        Mode, Duration, Rate, Concurrency, Seed, Progress, Hocon, Settings, Verbose
          Demo:       Duration, Rate, Concurrency, Seed, BurstRequests, TokenLifetime, FaultRate, SearchPerSecond
          Workload:   Client, BaseAddress, Duration, Rate, Concurrency, Seed,
                      SignIn { Realm, AccessToken, RefreshToken }   (tokens are never printed)
                      Endpoints: [ { Name, Method, Path, Weight, Body, ContentType, Headers { }, IdempotencyKey } ]
                      Path and Body may use {seq}, {random:N}, {uuid}.
          NetActors:  any key of netactors.hocon, e.g. NetActors:clients:api:max-connections=4
                      (NetActors__clients__api__max-connections=4 as an environment variable); it overrides the file.
        """;
}
