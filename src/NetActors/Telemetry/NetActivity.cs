using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using NetActors.Errors;

namespace NetActors.Telemetry;

/// <summary>
/// The runtime's traces: an <see cref="ActivitySource"/> named <c>NetActors</c> with one client span per logical
/// request, a child of the caller's <see cref="Activity.Current"/> captured when the request was accepted, named and
/// tagged by OpenTelemetry's HTTP client conventions (<c>{method}</c>; <c>http.request.method</c>,
/// <c>server.address</c>, <c>server.port</c>, <c>url.full</c> redacted, <c>http.response.status_code</c>,
/// <c>error.type</c>, <c>http.request.resend_count</c>), with an event per attempt. The <c>traceparent</c> on the wire
/// is the span's (or, when nobody samples NetActors' spans, the caller's own activity's), so the request keeps its
/// caller's trace either way. With no listener and no caller activity nothing is allocated.
/// </summary>
public static class NetActivity
{
    /// <summary>The name of the <see cref="ActivitySource"/> (what <c>AddSource</c> takes).</summary>
    public const string SourceName = "NetActors";

    /// <summary>The name of the event each attempt adds to its request's span.</summary>
    public const string AttemptEventName = "netactors.attempt";

    /// <summary>The name of a token refresh's span.</summary>
    public const string RefreshSpanName = "netactors.auth.refresh";

    /// <summary>The name of the event a request's span gets when the token it waited for arrives.</summary>
    public const string TokenWaitEventName = "netactors.auth.token_granted";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>Each live realm actor's last successful refresh span and the token version it produced.</summary>
    private static readonly ConcurrentDictionary<IActorRef, (ActivityContext Span, long Version)> s_refreshes = new();

    private const string TraceParent = "traceparent";
    private const string TraceState = "tracestate";

    /// <summary>
    /// The trace context of a request accepted now: a new client span, a child of <see cref="Activity.Current"/>,
    /// when a listener samples it; else the caller's activity itself (propagated, never stopped here); else null.
    /// <see cref="Activity.Current"/> is left as it was, so the caller's context does not change.
    /// </summary>
    internal static Activity? Begin(HttpMethod method, Activity? caller)
    {
        if (!Source.HasListeners())
        {
            return caller;
        }

        var span = Source.StartActivity(SpanName(method), ActivityKind.Client, caller?.Context ?? default);
        if (span is null)
        {
            return caller;
        }

        Activity.Current = caller; // StartActivity made the span current; the caller's context must not change
        if (span.IsAllDataRequested)
        {
            SetMethod(span, method);
        }

        return span;
    }

    /// <summary>A request told or asked to the gateway: its trace context is the one its creator had.</summary>
    internal static T Told<T>(T ex) where T : ITracedExchange
    {
        ex.Span = Begin(ex.Request.Method, ex.Request.Caller);
        return ex;
    }

    /// <summary>True when <paramref name="activity"/> is a request span of this source (not a caller's activity).</summary>
    private static bool IsOwn(Activity activity) => ReferenceEquals(activity.Source, Source) && activity.Kind == ActivityKind.Client;

    /// <summary>
    /// Puts the exchange's trace context on the attempt's message: exactly one <c>traceparent</c> (and the
    /// <c>tracestate</c>), those of its span; the caller's own headers of that name are left out by the builder
    /// (see <see cref="IsTraceHeader"/>).
    /// </summary>
    internal static void Inject(ITracedExchange ex, HttpRequestMessage message)
    {
        if (ex.Span is not { IdFormat: ActivityIdFormat.W3C } span)
        {
            return;
        }

        message.Headers.TryAddWithoutValidation(TraceParent, span.Id);
        if (span.TraceStateString is { Length: > 0 } state)
        {
            message.Headers.TryAddWithoutValidation(TraceState, state);
        }
    }

    /// <summary>True for a header the runtime sets from the exchange's trace context when it has one.</summary>
    internal static bool IsTraceHeader(ITracedExchange ex, string name) =>
        ex.Span is { IdFormat: ActivityIdFormat.W3C } &&
        (string.Equals(name, TraceParent, StringComparison.OrdinalIgnoreCase) ||
         string.Equals(name, TraceState, StringComparison.OrdinalIgnoreCase));

    /// <summary>Adds one attempt's outcome to the request's span, as an event (status, or the error's type).</summary>
    internal static void Attempt(ITracedExchange ex, HttpResponseMessage? response, Exception? error)
    {
        if (ex.Span is not { IsAllDataRequested: true } span || !IsOwn(span))
        {
            return;
        }

        var tags = new ActivityTagsCollection { ["netactors.attempt"] = ex.Attempts };
        if (response is not null)
        {
            tags["http.response.status_code"] = (int)response.StatusCode;
        }

        if (error is not null)
        {
            tags["error.type"] = error.GetType().FullName;
        }

        span.AddEvent(new ActivityEvent(AttemptEventName, tags: tags));
    }

    /// <summary>
    /// Ends the request's span with its outcome (once: the exchange calls it when it claims the outcome). The
    /// URL tag is redacted with the exchange's rules; an error status or a failure sets status Error.
    /// </summary>
    internal static void End(ITracedExchange ex, int? status, Exception? error)
    {
        if (ex.Span is not { } span || !IsOwn(span))
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            if (ex.Target is { IsAbsoluteUri: true } target)
            {
                span.SetTag("server.address", target.Host);
                span.SetTag("server.port", target.Port);
                span.SetTag("url.full", ex.Redaction.Url(target));
            }
            else if (ex.Request.Url is { } url)
            {
                span.SetTag("url.full", ex.Redaction.Url(url));
            }

            status ??= (error as HttpStatusException)?.StatusCode is { } code ? (int)code : null;
            if (status is { } s)
            {
                span.SetTag("http.response.status_code", s);
            }

            if (ex.Attempts > 1)
            {
                span.SetTag("http.request.resend_count", ex.Attempts - 1);
            }

            string? errorType = error is not null && error is not HttpStatusException
                ? error.GetType().FullName
                : status >= 400 ? status.Value.ToString(CultureInfo.InvariantCulture) : null;
            if (errorType is not null)
            {
                span.SetTag("error.type", errorType);
                span.SetStatus(ActivityStatusCode.Error, error?.GetType().Name);
            }
        }

        var current = Activity.Current;
        span.Stop();
        Activity.Current = current; // Stop restores the span's parent as current: this thread's context must not change
    }

    /// <summary>
    /// A token refresh attempt's span (kind Internal, a root of its own trace: it serves every request that waits
    /// for the realm's token), or null when nobody listens. <see cref="Activity.Current"/> is left as it was.
    /// </summary>
    internal static Activity? BeginRefresh(string realm, bool proactive)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var current = Activity.Current;
        var span = Source.StartActivity(RefreshSpanName, ActivityKind.Internal, parentContext: default);
        Activity.Current = current;
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("netactors.auth.realm", realm);
            span.SetTag("netactors.auth.proactive", proactive);
        }

        return span;
    }

    /// <summary>Ends a refresh span: status Error with the failure's type when it failed.</summary>
    internal static void EndRefresh(Activity? span, string outcome, Exception? error)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag("netactors.auth.outcome", outcome);
        if (error is not null)
        {
            span.SetTag("error.type", error.GetType().FullName);
            span.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        }

        var current = Activity.Current;
        span.Stop();
        Activity.Current = current;
    }

    /// <summary>Records that <paramref name="realm"/>'s refresh span <paramref name="span"/> produced token <paramref name="version"/>.</summary>
    internal static void Refreshed(IActorRef realm, Activity? span, long version)
    {
        if (span is not null)
        {
            s_refreshes[realm] = (span.Context, version);
        }
    }

    /// <summary>Forgets a realm actor that stopped.</summary>
    internal static void Forget(IActorRef realm) => s_refreshes.TryRemove(realm, out _);

    /// <summary>
    /// A request that waited for a token gets it: when the token came from a refresh whose span is known, the
    /// request's span is linked to that refresh (and the wait shows as an event).
    /// </summary>
    internal static void WaitedFor(ITracedExchange ex, IActorRef realm, long version)
    {
        if (ex.Span is not { IsAllDataRequested: true } span || !IsOwn(span) ||
            !s_refreshes.TryGetValue(realm, out var refresh) || refresh.Version != version)
        {
            return;
        }

        span.AddLink(new ActivityLink(refresh.Span));
        span.AddEvent(new ActivityEvent(TokenWaitEventName));
    }

    private static string SpanName(HttpMethod method) => IsKnown(method) ? method.Method : "HTTP";

    private static void SetMethod(Activity span, HttpMethod method)
    {
        if (IsKnown(method))
        {
            span.SetTag("http.request.method", method.Method);
        }
        else
        {
            span.SetTag("http.request.method", "_OTHER");
            span.SetTag("http.request.method_original", method.Method);
        }
    }

    private static bool IsKnown(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Post || method == HttpMethod.Put || method == HttpMethod.Delete ||
        method == HttpMethod.Head || method == HttpMethod.Patch || method == HttpMethod.Options ||
        method == HttpMethod.Trace || method == HttpMethod.Connect;
}

/// <summary>
/// What the request span needs of a request in the runtime (its request, target, attempts, redaction rules and
/// span), so that telemetry does not depend on the actors that carry the request.
/// </summary>
internal interface ITracedExchange
{
    NetRequest Request { get; }

    Uri? Target { get; }

    int Attempts { get; }

    RedactionSettings Redaction { get; }

    Activity? Span { get; set; }
}
