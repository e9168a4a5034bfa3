using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Telemetry;

namespace NetActors.Tests.Infrastructure;

/// <summary>One measurement: instrument, value and tags.</summary>
public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

/// <summary>Records every measurement of one runtime's <c>NetActors</c> meter (not the meters of other tests' runtimes).</summary>
public sealed class MetricsCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measured> _measurements = new();

    public MetricsCapture(IServiceProvider services)
    {
        var meter = services.GetRequiredService<NetMetrics>().Meter;
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>(Record);
        _listener.SetMeasurementEventCallback<long>(Record);
        _listener.SetMeasurementEventCallback<int>(Record);
        _listener.Start();
    }

    public IReadOnlyList<Measured> All => _measurements.ToArray();

    /// <summary>The sum of <paramref name="instrument"/>'s measurements whose tags include <paramref name="tag"/> = <paramref name="value"/>.</summary>
    public double Sum(string instrument, string? tag = null, string? value = null) =>
        _measurements.Where(m => m.Instrument == instrument && (tag is null || (string?)m.Tags.GetValueOrDefault(tag) == value)).Sum(m => m.Value);

    /// <summary>Samples the observable instruments (gauges) now.</summary>
    public void Sample() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state) =>
        _measurements.Enqueue(new Measured(instrument.Name, Convert.ToDouble(value), tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
}
