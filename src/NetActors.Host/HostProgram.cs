using Microsoft.Extensions.Logging;
using NetActors.Configuration;
using NetActors.Host.Demo;
using NetActors.Host.Load;
using NetActors.Host.Options;
using NetActors.Host.Workload;

namespace NetActors.Host;

/// <summary>The host's entry point, callable in-process (tests run it with their own writers and environment).</summary>
internal static class HostProgram
{
    /// <summary>Exit code when every invariant held.</summary>
    public const int Ok = 0;

    /// <summary>Exit code when an invariant broke.</summary>
    public const int InvariantBroken = 1;

    /// <summary>Exit code when the options or settings are invalid.</summary>
    public const int BadConfiguration = 2;

    /// <summary>Runs the demo or the configured workload and returns the exit code.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Progress and summary.</param>
    /// <param name="error">Problems.</param>
    /// <param name="logging">Log providers, given the options (none when null).</param>
    /// <param name="baseDirectory">Where appsettings.json and netactors.hocon are (default: next to the program).</param>
    /// <param name="environment">Environment variables (default: the process's).</param>
    /// <param name="stop">Ends the run early (Ctrl+C): what is in progress finishes, the summary is printed.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error,
        Action<ILoggingBuilder, HostRunOptions>? logging = null, string? baseDirectory = null,
        IDictionary<string, string?>? environment = null, CancellationToken stop = default)
    {
        if (HostCommandLine.WantsHelp(args))
        {
            output.WriteLine(HostCommandLine.Help);
            return Ok;
        }

        var directory = baseDirectory ?? AppContext.BaseDirectory;
        try
        {
            var configuration = HostCommandLine.Build(args, directory, environment);
            var defaultHocon = Path.Combine(directory, "netactors.hocon");
            var options = HostOptionsReader.Read(configuration, File.Exists(defaultHocon) ? defaultHocon : null);
            Action<ILoggingBuilder>? log = logging is null ? null : b => logging(b, options);
            IReadOnlyList<InvariantCheck> violations;
            if (options.Mode == HostMode.Demo)
            {
                var report = await DemoRunner.RunAsync(options, configuration, output, log, stop);
                report.WriteTo(output);
                violations = report.Violations;
            }
            else
            {
                var report = await WorkloadRunner.RunAsync(options, configuration, output, log, stop);
                report.WriteTo(output);
                violations = report.Violations;
            }

            if (violations.Count == 0)
            {
                output.WriteLine("All invariants held.");
                return Ok;
            }

            foreach (var violation in violations)
            {
                error.WriteLine($"INVARIANT BROKEN: {violation.Name}: {violation.Detail}");
            }

            return InvariantBroken;
        }
        catch (HostConfigurationException e)
        {
            error.WriteLine(e.Message);
            error.WriteLine("See --help.");
            return BadConfiguration;
        }
        catch (NetActorsConfigurationException e)
        {
            error.WriteLine($"Invalid NetActors setting: {e.Message}");
            return BadConfiguration;
        }
    }
}
