using System.Collections.Frozen;
using System.Text.Json;

namespace NetActors.Features;

/// <summary>
/// The backend's feature flags (<c>netactors.feature-flags</c>): fetched through the runtime when it starts and
/// every <c>refresh-interval</c>, kept in memory, read without I/O. When a fetch fails the last good set stays.
/// Before the first successful fetch every read returns its default.
/// </summary>
public interface IFeatureFlags
{
    /// <summary>The flag as a boolean, or <paramref name="defaultValue"/> when it is missing or not a boolean.</summary>
    /// <param name="name">The flag's name (case-sensitive).</param>
    /// <param name="defaultValue">The value when the flag is missing.</param>
    bool IsEnabled(string name, bool defaultValue = false);

    /// <summary>The flag read as <typeparamref name="T"/>, or <paramref name="defaultValue"/> when it is missing or of another shape.</summary>
    /// <typeparam name="T">The type to read (a number, a string, a record, …).</typeparam>
    /// <param name="name">The flag's name (case-sensitive).</param>
    /// <param name="defaultValue">The value when the flag is missing or does not read as <typeparamref name="T"/>.</param>
    T Get<T>(string name, T defaultValue);

    /// <summary>Every flag of the last good set.</summary>
    IReadOnlyDictionary<string, JsonElement> All { get; }

    /// <summary>When the last good set was fetched; null before the first.</summary>
    DateTimeOffset? LastUpdated { get; }

    /// <summary>
    /// Raised once per fetch that changed anything (added, removed or different flags), on a thread-pool thread.
    /// </summary>
    event EventHandler<FeatureFlagsChangedEventArgs>? Changed;

    /// <summary>Fetches the flags now; throws the fetch's <see cref="Errors.NetException"/> when it fails (the last good set stays).</summary>
    /// <param name="cancellationToken">Stops waiting for the fetch.</param>
    Task RefreshAsync(CancellationToken cancellationToken = default);
}

/// <summary>What a flags fetch changed.</summary>
/// <param name="changed">The names of the flags that were added, removed or changed.</param>
/// <param name="flags">The whole new set.</param>
public sealed class FeatureFlagsChangedEventArgs(IReadOnlyCollection<string> changed, IReadOnlyDictionary<string, JsonElement> flags)
    : EventArgs
{
    /// <summary>The names of the flags that were added, removed or changed.</summary>
    public IReadOnlyCollection<string> ChangedFlags { get; } = changed;

    /// <summary>The whole new set.</summary>
    public IReadOnlyDictionary<string, JsonElement> Flags { get; } = flags;
}

/// <summary>The flags store: written by the flags actor, read by anyone.</summary>
internal sealed class FeatureFlags : IFeatureFlags
{
    private volatile Snapshot _current = new(FrozenDictionary<string, JsonElement>.Empty, null);

    private sealed record Snapshot(FrozenDictionary<string, JsonElement> Flags, DateTimeOffset? At);

    /// <summary>Set when the runtime starts with flags enabled: asks the flags actor for a fetch.</summary>
    internal Func<CancellationToken, Task>? Fetch { get; set; }

    internal JsonSerializerOptions Json { get; set; } = NetJson.Default;

    public event EventHandler<FeatureFlagsChangedEventArgs>? Changed;

    public IReadOnlyDictionary<string, JsonElement> All => _current.Flags;

    public DateTimeOffset? LastUpdated => _current.At;

    public bool IsEnabled(string name, bool defaultValue = false) =>
        _current.Flags.TryGetValue(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : defaultValue;

    public T Get<T>(string name, T defaultValue)
    {
        if (!_current.Flags.TryGetValue(name, out var value))
        {
            return defaultValue;
        }

        try
        {
            return value.Deserialize<T>(Json) is { } read ? read : defaultValue;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return defaultValue;
        }
    }

    public Task RefreshAsync(CancellationToken cancellationToken = default) =>
        Fetch?.Invoke(cancellationToken) ?? Task.FromException(new InvalidOperationException(
            "feature flags are not enabled (netactors.feature-flags.enabled = off), or the runtime has not started."));

    /// <summary>Replaces the set; raises <see cref="Changed"/> once when anything differs.</summary>
    internal void Update(IReadOnlyDictionary<string, JsonElement> flags, DateTimeOffset at)
    {
        var next = flags.ToFrozenDictionary(f => f.Key, f => f.Value.Clone(), StringComparer.Ordinal);
        var previous = _current.Flags;
        _current = new Snapshot(next, at);
        var changed = next.Keys.Union(previous.Keys)
            .Where(k => !previous.TryGetValue(k, out var before) || !next.TryGetValue(k, out var after) || !JsonElement.DeepEquals(before, after))
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (changed.Length > 0 && Changed is { } handlers)
        {
            var args = new FeatureFlagsChangedEventArgs(changed, next);
            ThreadPool.QueueUserWorkItem(_ => handlers(this, args));
        }
    }
}
