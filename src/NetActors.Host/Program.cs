using Microsoft.Extensions.Logging;
using NetActors.Host;
using Serilog;
using Serilog.Events;

// Ctrl+C once: stop starting new work, let what runs finish, print the summary. Twice: the usual hard stop.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!stop.IsCancellationRequested)
    {
        e.Cancel = true;
        stop.Cancel();
    }
};

return await HostProgram.RunAsync(args, Console.Out, Console.Error, (logging, options) => logging.AddSerilog(
    new LoggerConfiguration()
        .MinimumLevel.Is(options.Verbose ? LogEventLevel.Debug : LogEventLevel.Information)
        .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
        .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
        // Failures and retries are in the progress lines and the summary; --verbose logs each one.
        .MinimumLevel.Override("NetActors.Requests", options.Verbose ? LogEventLevel.Debug : LogEventLevel.Error)
        .Enrich.FromLogContext()
        .WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}")
        .CreateLogger(),
    dispose: true), stop: stop.Token);
