using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Host.Load;
using NetActors.Host.Options;
using static NetActors.Host.Load.RunReport;

namespace NetActors.Host.Workload;

/// <summary>A configured workload's summary.</summary>
internal sealed record WorkloadReport(WorkloadOptions Options, LoadResult Load, LedgerSummary Ledger, MetricsSnapshot Metrics,
    IReadOnlyList<OriginReport> Origins, IReadOnlyList<InvariantCheck> Checks)
{
    /// <summary>The checks that failed.</summary>
    public IReadOnlyList<InvariantCheck> Violations => Checks.Where(c => !c.Held).ToList();

    /// <summary>Writes the summary.</summary>
    public void WriteTo(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("NetActors workload: summary");
        output.WriteLine($"  client {Options.Client}: {Load.Started} requests in {Load.Issuing.TotalSeconds:0.0} s ({Load.Rate:0.0}/s; asked " +
                         $"{(Options.Rate > 0 ? $"{Options.Rate:0.#}/s" : "as fast as allowed")}, at most {Options.Concurrency} at once), " +
                         $"the last done after {Load.Elapsed.TotalSeconds:0.0} s, seed {Options.Seed}");
        WriteTables(output, Load, Origins, Metrics);
        output.WriteLine();
        output.WriteLine("invariants");
        WriteChecks(output, Checks);
    }
}

/// <summary>
/// Runs a workload described in configuration (section <c>Workload</c>) against the API it names, through the
/// runtime: endpoints chosen by weight, at a rate, for a duration, with live progress and a summary.
/// </summary>
internal static class WorkloadRunner
{
    /// <summary>Runs the workload of <paramref name="options"/>.</summary>
    /// <param name="options">The host's options; <see cref="HostRunOptions.Workload"/> is set.</param>
    /// <param name="configuration">The configuration (its NetActors section overrides the HOCON file).</param>
    /// <param name="output">Where the progress lines go (none when null).</param>
    /// <param name="logging">Log providers (none when null).</param>
    /// <param name="stop">Ends the workload early (what is in progress finishes).</param>
    public static async Task<WorkloadReport> RunAsync(HostRunOptions options, IConfiguration configuration, TextWriter? output,
        Action<ILoggingBuilder>? logging, CancellationToken stop)
    {
        var workload = options.Workload ?? throw new ArgumentException("The options have no workload.", nameof(options));
        await using var runtime = await RuntimeHost.StartAsync(options, configuration, net =>
        {
            if (workload.BaseAddress is { } address)
            {
                net.AddClient(workload.Client, c => c.WithBaseAddress(address));
            }
        }, null, logging, CancellationToken.None);

        var client = Validate(workload, runtime.Settings);
        if (workload.SignIn is { } signIn)
        {
            await runtime.Net.SignInAsync(signIn.Realm ?? client.AuthRealm!, new TokenSet(signIn.AccessToken, signIn.RefreshToken));
        }

        else if (client.AuthRealm is { } realm && runtime.Settings.Realms.TryGetValue(realm, out var r) &&
                 r.Strategy != RefreshStrategy.OAuthClientCredentials && r.StoreType == "memory")
        {
            output?.WriteLine($"Note: client {workload.Client} uses auth realm {realm}, which starts without a session (memory store) " +
                              "and no Workload:SignIn is given: its requests will fail with SessionExpiredException.");
        }

        var ledger = new RequestLedger(runtime.Net, runtime.TotalTimeout);
        using var watch = new MetricsWatch(runtime.Metrics.Meter);
        var origins = OriginsOf(workload, client);
        var steps = workload.Endpoints
            .Select(e => new LoadStep(e.Name, e.Weight, (op, ct) => ledger.SendAsync(RequestFor(workload.Client, e, op), ct)))
            .ToList();
        output?.WriteLine($"Workload: {workload.Endpoints.Count} endpoints through client {workload.Client} " +
                          $"({string.Join(", ", origins.Select(o => o.Origin))}) for {workload.Duration.TotalSeconds:0.#} s, " +
                          $"{(workload.Rate > 0 ? $"{workload.Rate:0.#} requests/s" : "as fast as allowed")}, at most {workload.Concurrency} at once ...");

        var drain = runtime.TotalTimeout(workload.Client) + RequestLedger.Grace;
        LoadResult load;
        await using (new LiveProgress(watch, output, options.ProgressInterval, origins))
        {
            load = await LoadDriver.RunAsync(steps, new LoadPlan(workload.Duration, workload.Rate, workload.Concurrency, workload.Seed), drain, stop);
        }

        var metrics = watch.Snapshot();
        var ledgerSummary = LedgerSummary.Of(ledger);
        var originReports = origins.Select(o => new OriginReport(o.Name, o.Origin, runtime.CapOf(o.Origin) ?? client.MaxConnections, null, null,
            metrics.Origins.GetValueOrDefault(o.Origin)?.MaxInFlight ?? 0)).ToList();
        return new WorkloadReport(workload, load, ledgerSummary, metrics, originReports,
        [
            EveryRequestAnOutcome(ledgerSummary, load, runtime.TotalTimeout(workload.Client)),
            ClientCap(originReports),
        ]);
    }

    /// <summary>The request of one operation: placeholders filled, body, headers, idempotency key.</summary>
    internal static NetRequest RequestFor(string client, EndpointOptions endpoint, LoadOp op)
    {
        var request = new NetRequest(client, endpoint.Method, RequestTemplate.Expand(endpoint.Path, op));
        if (endpoint.Body is { } body)
        {
            request = request.WithContent(NetContent.Text(RequestTemplate.Expand(body, op), endpoint.ContentType));
        }

        foreach (var (name, value) in endpoint.Headers)
        {
            request = request.WithHeader(name, value);
        }

        return endpoint.IdempotencyKey ? request.WithIdempotencyKey(RequestTemplate.Uuid(op.Random).ToString()) : request;
    }

    /// <summary>Checks the workload against the runtime's settings; returns the client's settings.</summary>
    private static ClientSettings Validate(WorkloadOptions workload, NetActorsSettings settings)
    {
        var problems = new List<string>();
        if (!settings.Clients.TryGetValue(workload.Client, out var client))
        {
            throw new HostConfigurationException([
                $"Workload:Client: there is no NetActors client named '{workload.Client}' (configured: " +
                $"{string.Join(", ", settings.Clients.Keys.Order(StringComparer.Ordinal))}); set Workload:BaseAddress to create it, " +
                $"or declare netactors.clients.{workload.Client} in HOCON.",
            ]);
        }

        if (client.BaseAddress is null && workload.Endpoints.FirstOrDefault(e => !IsAbsolute(e.Path)) is { } relative)
        {
            problems.Add($"Workload:BaseAddress: the client '{workload.Client}' has no base address, and the path of '{relative.Name}' is relative; " +
                         $"set Workload:BaseAddress or netactors.clients.{workload.Client}.base-address.");
        }

        if (workload.SignIn is { } signIn)
        {
            var realm = signIn.Realm ?? client.AuthRealm;
            if (realm is null)
            {
                problems.Add($"Workload:SignIn:Realm: the client '{workload.Client}' has no auth realm (netactors.clients.{workload.Client}.auth-realm); " +
                             "name the realm to sign in to.");
            }
            else if (!settings.Realms.ContainsKey(realm))
            {
                problems.Add($"Workload:SignIn:Realm: there is no auth realm named '{realm}' (configured: " +
                             $"{string.Join(", ", settings.Realms.Keys.Order(StringComparer.Ordinal))}).");
            }
        }

        return problems.Count > 0 ? throw new HostConfigurationException(problems) : client;
    }

    private static bool IsAbsolute(string path) =>
        path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The origins the workload reaches: the client's, and those of absolute endpoint URLs.</summary>
    private static List<(string Origin, string Name)> OriginsOf(WorkloadOptions workload, ClientSettings client)
    {
        var origins = new List<(string Origin, string Name)>();
        if (client.BaseOrigin is { } own)
        {
            origins.Add((own, workload.Client));
        }

        foreach (var endpoint in workload.Endpoints.Where(e => IsAbsolute(e.Path)))
        {
            // Placeholders may stand in the path, never in the origin we show.
            var origin = Origins.KeyOf(new Uri(RequestTemplate.Expand(endpoint.Path, new LoadOp(0, new Random(0)))));
            if (origins.All(o => o.Origin != origin))
            {
                origins.Add((origin, new Uri(origin).Authority));
            }
        }

        return origins;
    }
}
