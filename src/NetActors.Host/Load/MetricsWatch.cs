using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace NetActors.Host.Load;

/// <summary>An origin's gauges as last sampled, and their highest values.</summary>
/// <param name="Queued">Requests waiting now.</param>
/// <param name="InFlight">Requests on the wire now.</param>
/// <param name="MaxQueued">The most waiting at a sample.</param>
/// <param name="MaxInFlight">The most on the wire at a sample.</param>
/// <param name="CircuitState">0 closed, 1 half-open, 2 open.</param>
/// <param name="Limit">The adaptive concurrency limit, or null when the origin has none.</param>
/// <param name="Rate">The adaptive rate (permits per second, the fleet's), or null when the origin has none.</param>
internal sealed record OriginView(int Queued, int InFlight, int MaxQueued, int MaxInFlight, int CircuitState,
    int? Limit = null, double? Rate = null);

/// <summary>What the <c>NetActors</c> meter has reported so far.</summary>
/// <param name="Requests">Requests with an outcome (<c>netactors.client.request.duration</c> measurements), refresh calls included.</param>
/// <param name="Failures">Failed requests by kind: the outcome tag, with the status class for HTTP errors.</param>
/// <param name="Attempts">Attempts that went on the wire.</param>
/// <param name="Retries">Retries scheduled.</param>
/// <param name="Unauthorized">401s to requests with a bearer token.</param>
/// <param name="Deduplicated">Requests answered from an identical concurrent request's call.</param>
/// <param name="Refreshes">Token refreshes by outcome.</param>
/// <param name="Other">Any other counter of the meter, by instrument name (instruments added later show up here).</param>
/// <param name="Origins">Per origin.</param>
internal sealed record MetricsSnapshot(long Requests, IReadOnlyDictionary<string, long> Failures, long Attempts, long Retries, long Unauthorized,
    long Deduplicated, IReadOnlyDictionary<string, long> Refreshes, IReadOnlyDictionary<string, long> Other,
    IReadOnlyDictionary<string, OriginView> Origins)
{
    /// <summary>Refreshes that succeeded.</summary>
    public long RefreshesSucceeded => Refreshes.GetValueOrDefault("success");
}

/// <summary>
/// Listens to one runtime's <c>NetActors</c> meter with a <see cref="MeterListener"/> and adds up what it
/// reports: the same numbers an operator sees through OpenTelemetry or <c>dotnet-counters</c>.
/// </summary>
internal sealed class MetricsWatch : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _refreshes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _other = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OriginView> _origins = new(StringComparer.Ordinal);
    private long _requests;
    private long _attempts;
    private long _retries;
    private long _unauthorized;
    private long _deduplicated;

    /// <summary>Starts listening to <paramref name="meter"/> (only that meter instance: a process may run several runtimes).</summary>
    public MetricsWatch(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.Start();
    }

    /// <summary>Reads the gauges (queue length, in flight, circuit state, adaptive limit and rate) now.</summary>
    public void Sample() => _listener.RecordObservableInstruments();

    /// <summary>The totals so far.</summary>
    public MetricsSnapshot Snapshot() => new(
        Interlocked.Read(ref _requests), Copy(_failures), Interlocked.Read(ref _attempts), Interlocked.Read(ref _retries), Interlocked.Read(ref _unauthorized),
        Interlocked.Read(ref _deduplicated), Copy(_refreshes), Copy(_other), _origins.ToDictionary(o => o.Key, o => o.Value));

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (instrument.Name)
        {
            case "netactors.client.request.duration":
                Interlocked.Increment(ref _requests);
                var outcome = Tag(tags, "netactors.outcome");
                if (outcome != "success")
                {
                    var kind = outcome == "http_error" ? "http " + Tag(tags, "http.response.status_class") : outcome;
                    _failures.AddOrUpdate(kind, 1, (_, n) => n + 1);
                }

                break;
            case "netactors.client.attempts":
                Interlocked.Add(ref _attempts, (long)value);
                break;
            case "netactors.client.retries":
                Interlocked.Add(ref _retries, (long)value);
                break;
            case "netactors.client.unauthorized":
                Interlocked.Add(ref _unauthorized, (long)value);
                break;
            case "netactors.client.deduplicated":
                Interlocked.Add(ref _deduplicated, (long)value);
                break;
            case "netactors.auth.token_refreshes":
                _refreshes.AddOrUpdate(Tag(tags, "netactors.outcome"), (long)value, (_, n) => n + (long)value);
                break;
            case "netactors.origin.queue_length":
                UpdateOrigin(Tag(tags, "netactors.origin"), v => v with { Queued = (int)value, MaxQueued = Math.Max(v.MaxQueued, (int)value) });
                break;
            case "netactors.origin.active_requests":
                UpdateOrigin(Tag(tags, "netactors.origin"), v => v with { InFlight = (int)value, MaxInFlight = Math.Max(v.MaxInFlight, (int)value) });
                break;
            case "netactors.origin.circuit_state":
                UpdateOrigin(Tag(tags, "netactors.origin"), v => v with { CircuitState = (int)value });
                break;
            case "netactors.origin.concurrency_limit":
                UpdateOrigin(Tag(tags, "netactors.origin"), v => v with { Limit = (int)value });
                break;
            case "netactors.origin.rate_limit":
                UpdateOrigin(Tag(tags, "netactors.origin"), v => v with { Rate = value });
                break;
            default:
                if (instrument is Counter<long> or Counter<int> or Counter<double>)
                {
                    _other.AddOrUpdate(instrument.Name, (long)value, (_, n) => n + (long)value);
                }

                break;
        }
    }

    private void UpdateOrigin(string origin, Func<OriginView, OriginView> update) =>
        _origins.AddOrUpdate(origin, _ => update(new OriginView(0, 0, 0, 0, 0)), (_, v) => update(v));

    private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var (k, v) in tags)
        {
            if (k == key)
            {
                return v?.ToString() ?? string.Empty;
            }
        }

        return string.Empty;
    }

    private static Dictionary<string, long> Copy(ConcurrentDictionary<string, long> source) =>
        source.ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
