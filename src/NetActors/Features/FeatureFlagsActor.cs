using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using NetActors.Hosts;
using NetActors.Configuration;

namespace NetActors.Features;

/// <summary>
/// Fetches the feature flags through the runtime when it starts and on every <c>refresh-interval</c>, one fetch
/// at a time; a fetch asked for while one runs shares it. A failed fetch keeps the last good set.
/// </summary>
internal sealed class FeatureFlagsActor : ReceiveActor, IWithTimers
{
    private readonly FeatureFlags _flags;
    private readonly FeatureFlagsSettings _settings;
    private readonly IActorRef _gateway;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<TaskCompletionSource> _waiting = [];
    private bool _fetching;

    private FeatureFlagsActor(FeatureFlags flags, FeatureFlagsSettings settings, IActorRef gateway, TimeProvider time)
    {
        _flags = flags;
        _settings = settings;
        _gateway = gateway;
        _time = time;
        Receive<FetchFlags>(OnFetch);
        Receive<FlagsFetched>(OnFetched);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(FeatureFlags flags, FeatureFlagsSettings settings, IActorRef gateway, TimeProvider time) =>
        ActorProps.Of(() => new FeatureFlagsActor(flags, settings, gateway, time));

    protected override void PreStart()
    {
        Self.Tell(new FetchFlags(null));
        Timers.StartPeriodicTimer("refresh", new FetchFlags(null), _settings.RefreshInterval);
    }

    private void OnFetch(FetchFlags fetch)
    {
        if (fetch.Done is not null)
        {
            _waiting.Add(fetch.Done);
        }

        if (_fetching)
        {
            return;
        }

        _fetching = true;
        var exchange = Exchange.ForTask(NetRequest.Get(_settings.Client, _settings.Path).WithHeader("Accept", "application/json"),
            CancellationToken.None);
        _gateway.Tell(exchange);
        exchange.Task.PipeTo(Self, success: r => new FlagsFetched(r, null), failure: e => new FlagsFetched(null, e));
    }

    private void OnFetched(FlagsFetched fetched)
    {
        _fetching = false;
        var error = fetched.Error;
        if (fetched.Response is { } response)
        {
            try
            {
                _flags.Update(Read(response), _time.GetUtcNow());
            }
            catch (Exception e)
            {
                // Whatever the body was, the last good set stays and the waiters get an answer.
                error = e as Errors.NetException ?? response.FormatError("the flags could not be read: " + e.Message, e);
            }
        }

        if (error is not null)
        {
            // NetException messages carry no secrets (URLs are redacted); the last good set stays.
            _log.Warning("Feature flags could not be fetched, keeping the last good set: {Error}", error.Message);
        }

        foreach (var done in _waiting)
        {
            if (error is null)
            {
                done.TrySetResult();
            }
            else
            {
                done.TrySetException(error);
            }
        }

        _waiting.Clear();
    }

    private Dictionary<string, JsonElement> Read(NetResponse response)
    {
        // Parsed as a document, not with the client's options: a source-generated context need not know JsonElement.
        using var document = JsonDocument.Parse(response.Body);
        if (!Paging.TryFind(document.RootElement, _settings.FlagsPath, out var flags) || flags.ValueKind != JsonValueKind.Object)
        {
            throw response.FormatError($"no flags object at {(string.IsNullOrEmpty(_settings.FlagsPath) ? "$" : "$." + _settings.FlagsPath)}.");
        }

        var read = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var flag in flags.EnumerateObject())
        {
            read[flag.Name] = flag.Value.Clone(); // a repeated name: the last one wins, as in a JavaScript client
        }

        return read;
    }

    protected override void PostStop()
    {
        // Stopped (shutdown) or restarted after a bug: nobody waits for a fetch that will not come.
        foreach (var done in _waiting)
        {
            done.TrySetException(new InvalidOperationException("the feature flags actor stopped before the fetch ended."));
        }

        _waiting.Clear();
    }
}

/// <summary>Fetch the flags now; <paramref name="Done"/> completes when this (or the running) fetch ends.</summary>
internal sealed record FetchFlags(TaskCompletionSource? Done);

internal sealed record FlagsFetched(NetResponse? Response, Exception? Error);
