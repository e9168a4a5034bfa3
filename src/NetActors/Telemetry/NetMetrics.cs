using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using NetActors.Errors;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's instruments on the <see cref="System.Diagnostics.Metrics"/> meter <c>NetActors</c>, named in the
/// style of .NET's <c>http.client.*</c> instruments. Tags are low-cardinality only: client and realm names,
/// origins (scheme://host:port), methods, status classes and outcome kinds; never a path, id or secret.
/// </summary>
public sealed class NetMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "NetActors";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly ConcurrentDictionary<string, OriginGauge> _origins = new(StringComparer.Ordinal);

    /// <summary>Creates the instruments on a meter from <paramref name="factory"/>, or on a meter of its own.</summary>
    /// <param name="factory">The host's meter factory, if any.</param>
    public NetMetrics(IMeterFactory? factory = null)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        RequestDuration = _meter.CreateHistogram<double>("netactors.client.request.duration", "s",
            "Time from accepting a request to its outcome, retries and waits included.");
        Attempts = _meter.CreateCounter<long>("netactors.client.attempts", "{attempt}",
            "Attempts that went on the wire.");
        Retries = _meter.CreateCounter<long>("netactors.client.retries", "{retry}",
            "Retries scheduled after a transient failure.");
        Unauthorized = _meter.CreateCounter<long>("netactors.client.unauthorized", "{response}",
            "401 responses to requests that carried a bearer token.");
        Deduplicated = _meter.CreateCounter<long>("netactors.client.deduplicated", "{request}",
            "Requests answered from an identical concurrent request's wire call.");
        CacheRequests = _meter.CreateCounter<long>("netactors.client.cache.requests", "{request}",
            "Cache lookups of GET/HEAD requests, by result: hit (fresh, not sent), revalidate (a conditional request was sent), miss; and stale (a stale entry answered a failure).");
        TokenRefreshes = _meter.CreateCounter<long>("netactors.auth.token_refreshes", "{refresh}",
            "Token refreshes by outcome: success, rejected, failed (retried), malformed.");
        _meter.CreateObservableGauge("netactors.origin.queue_length", () => Observe(g => g.Queued), "{request}",
            "Requests waiting for a connection slot, per origin.");
        _meter.CreateObservableGauge("netactors.origin.active_requests", () => Observe(g => g.InFlight), "{request}",
            "Requests on the wire, per origin.");
        _meter.CreateObservableGauge("netactors.origin.circuit_state", () => Observe(g => g.CircuitState), "{state}",
            "Circuit state per origin: 0 closed, 1 half-open, 2 open.");
        _meter.CreateObservableGauge("netactors.origin.concurrency_limit", () => Observe(g => g.Limit, adaptiveOnly: true), "{request}",
            "The adaptive concurrency limit per origin (only origins with adaptive-concurrency enabled): how many requests may be on the wire now.");
        _meter.CreateObservableGauge("netactors.origin.rate_limit", ObserveRates, "{request}/s",
            "The adaptive rate per origin (only origins with adaptive-rate enabled): the fleet's permits per second now.");
    }

    /// <summary>The meter the instruments live on.</summary>
    public Meter Meter => _meter;

    internal Histogram<double> RequestDuration { get; }

    internal Counter<long> Attempts { get; }

    internal Counter<long> Retries { get; }

    internal Counter<long> Unauthorized { get; }

    internal Counter<long> Deduplicated { get; }

    internal Counter<long> TokenRefreshes { get; }

    internal Counter<long> CacheRequests { get; }

    /// <summary>The gauge values of <paramref name="origin"/>, written by its host actor.</summary>
    internal OriginGauge Origin(string origin) => _origins.GetOrAdd(origin, o => new OriginGauge(o));

    /// <summary>Drops the gauge series of an origin whose host was removed: the <c>netactors.origin</c> tag stays bounded.</summary>
    internal void ForgetOrigin(string origin) => _origins.TryRemove(origin, out _);

    internal void RecordOutcome(string client, HttpMethod method, int? status, Exception? error, TimeSpan elapsed)
    {
        if (!RequestDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { "netactors.client", client },
            { "http.request.method", method.Method },
            { "http.response.status_class", status is { } s ? StatusClass(s) : "none" },
            { "netactors.outcome", error is null ? "success" : OutcomeOf(error) },
        };
        RequestDuration.Record(elapsed.TotalSeconds, tags);
    }

    internal static string StatusClass(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };

    internal static string OutcomeOf(Exception error) => error switch
    {
        OperationCanceledException => "cancelled",
        NetTimeoutException => "timeout",
        NetworkException => "network_error",
        HttpStatusException => "http_error",
        OverloadedException => "overloaded",
        CircuitOpenException => "circuit_open",
        SessionExpiredException => "session_expired",
        ResponseFormatException or ResponseTooLargeException => "bad_response",
        InvalidRequestException => "invalid_request",
        NetShutdownException => "shutdown",
        Resilience.NetInterceptorException => "interceptor_error",
        _ => "runtime_error",
    };

    /// <summary>Origins whose circuit is open or half-open.</summary>
    internal IReadOnlyList<string> OriginsWithCircuitNotClosed() =>
        _origins.Values.Where(o => o.CircuitState != 0).Select(o => o.Origin).ToList();

    /// <summary>The adaptive limit and rate of the origins that have them: for the health check's data.</summary>
    internal IReadOnlyDictionary<string, object> AdaptiveData()
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var gauge in _origins.Values)
        {
            if (gauge.Limit >= 0)
            {
                data["concurrency-limit:" + gauge.Origin] = gauge.Limit;
            }

            if (gauge.Rate >= 0)
            {
                data["rate-limit:" + gauge.Origin] = Math.Round(gauge.Rate, 2);
            }
        }

        return data;
    }

    private IEnumerable<Measurement<double>> ObserveRates()
    {
        foreach (var gauge in _origins.Values)
        {
            if (gauge.Rate >= 0)
            {
                yield return new Measurement<double>(gauge.Rate, new KeyValuePair<string, object?>("netactors.origin", gauge.Origin));
            }
        }
    }

    private IEnumerable<Measurement<int>> Observe(Func<OriginGauge, int> read, bool adaptiveOnly = false)
    {
        foreach (var gauge in _origins.Values)
        {
            if (adaptiveOnly && gauge.Limit < 0)
            {
                continue;
            }

            yield return new Measurement<int>(read(gauge), new KeyValuePair<string, object?>("netactors.origin", gauge.Origin));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

/// <summary>One origin's gauge values; written by its host actor, read by the metrics collector.</summary>
internal sealed class OriginGauge(string origin)
{
    private int _queued;
    private int _inFlight;
    private int _circuit;
    private int _limit = -1;
    private long _rateBits = BitConverter.DoubleToInt64Bits(-1);

    public string Origin { get; } = origin;

    public int Queued => Volatile.Read(ref _queued);

    public int InFlight => Volatile.Read(ref _inFlight);

    public int CircuitState => Volatile.Read(ref _circuit);

    /// <summary>The adaptive concurrency limit; -1 when the origin has none.</summary>
    public int Limit => Volatile.Read(ref _limit);

    /// <summary>The adaptive rate (the fleet's, permits per second); -1 when the origin has none.</summary>
    public double Rate => BitConverter.Int64BitsToDouble(Volatile.Read(ref _rateBits));

    public void SetLimit(int limit) => Volatile.Write(ref _limit, limit);

    public void SetRate(double rate) => Volatile.Write(ref _rateBits, BitConverter.DoubleToInt64Bits(rate));

    public void Set(int queued, int inFlight)
    {
        Volatile.Write(ref _queued, queued);
        Volatile.Write(ref _inFlight, inFlight);
    }

    public void SetCircuit(Resilience.CircuitState state) =>
        Volatile.Write(ref _circuit, state switch { Resilience.CircuitState.Closed => 0, Resilience.CircuitState.HalfOpen => 1, _ => 2 });
}
