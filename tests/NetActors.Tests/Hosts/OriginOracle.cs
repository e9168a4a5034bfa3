using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Tests.Hosts;

/// <summary>What the scripted wire (or a request hook) did with one attempt of a request.</summary>
internal enum WireAnswer
{
    Ok,
    NotFound,
    Unauthorized,
    TooManyRequests,
    Unavailable,
    Reset,
    Redirect,

    /// <summary>The attempt's token fired while the call was on the wire: its response timeout or its total one.</summary>
    AttemptCancelled,

    /// <summary>A request hook threw before the call went on the wire.</summary>
    HookFailed,
}

/// <summary>What the model knows about one request: the events that concern it, each with the step it happened at.</summary>
internal sealed class RequestFacts(int id, string path, bool get, bool postWithoutKey, int admittedStep, DateTimeOffset admittedAt, TimeSpan timeout)
{
    public int Id { get; } = id;

    /// <summary>The path it was sent to first (what in-flight deduplication shares on).</summary>
    public string Path { get; } = path;

    public bool Get { get; } = get;

    public bool PostWithoutKey { get; } = postWithoutKey;

    public int AdmittedStep { get; } = admittedStep;

    public DateTimeOffset AdmittedAt { get; } = admittedAt;

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>The edge refused it: the origin held max-connections + queue-capacity requests.</summary>
    public bool RefusedAtEdge { get; set; }

    /// <summary>The step at which the model cancelled it, while it had no outcome.</summary>
    public int? CancelledStep { get; set; }

    /// <summary>The host actor crashed while this request was the message in hand.</summary>
    public bool CrashedInHand { get; set; }

    /// <summary>When its response or error hook was entered: its outcome was decided then, though given later.</summary>
    public DateTimeOffset? HookEnteredAt { get; set; }

    /// <summary>The step at which its response or error hook threw (the model made it), if one did.</summary>
    public int? HookThrewStep { get; set; }

    public List<(WireAnswer Answer, int Step)> Answers { get; } = [];

    public int Redirects => Answers.Count(a => a.Answer == WireAnswer.Redirect);
}

/// <summary>
/// The reference model of the origin's outcomes: a plain function from what happened (the facts of the request, of
/// the requests it may share a call with, and of the origin) to the outcomes the request may get. Exact where the
/// semantics are exact (refused at the edge, cancelled, crashed in hand); a small set where a race is legitimate
/// (a retry in progress when the deadline passes, a pause or an open circuit that overtakes a queued request).
/// </summary>
internal sealed class OriginOracle(bool auth, bool dedup, int maxRedirects, TimeSpan deadlineTolerance, TimeSpan maxRetryAfter)
{
    /// <summary>When a 429 or a 503 with Retry-After paused the origin, each time.</summary>
    public List<DateTimeOffset> Pauses { get; } = [];

    /// <summary>First step at which the circuit was seen other than closed.</summary>
    public int? CircuitStep { get; set; }

    public int? ShutdownStep { get; set; }

    public int? SessionExpiredStep { get; set; }

    public int? TokenFailedStep { get; set; }

    /// <summary>The outcome's kind, as the oracle names it: the exception's type name, or "NetResponse 200".</summary>
    public static string KindOf(object outcome) => outcome switch
    {
        NetResponse response => $"NetResponse {(int)response.StatusCode}",
        Akka.Actor.Status.Failure failure => failure.Cause.GetType().Name,
        _ => outcome.GetType().Name,
    };

    /// <summary>Every outcome kind <paramref name="r"/> may get at <paramref name="step"/> (when it got it), each with the rule that allows it.</summary>
    public Dictionary<string, string> Allowed(RequestFacts r, int step, DateTimeOffset at, IEnumerable<RequestFacts> all)
    {
        // Refused at the edge: exactly overloaded, at once, and nothing else ever.
        if (r.RefusedAtEdge)
        {
            return new() { [nameof(OverloadedException)] = "refused at the edge (max-connections + queue-capacity held)" };
        }

        // A caller that cancels before the outcome gets cancellation, as everywhere in .NET, and nothing else
        // (not even while a response hook holds the outcome: the caller does not wait for hooks).
        if (r.CancelledStep is not null)
        {
            return new() { [nameof(OperationCanceledException)] = "cancelled by its caller before its outcome" };
        }

        // Its response or error hook threw before its outcome was given: the hook's failure is the outcome, whatever
        // the outcome was to be (a response, a typed error, even the crash in hand): the runtime turns it into
        // NetInterceptorException naming the hook, and nothing else (the hook resumes the delivery, so an outcome
        // given at or after that step is the hook's; a timeout or cancellation that came first was given before).
        if (r.HookThrewStep <= step)
        {
            return new() { [nameof(NetInterceptorException)] = $"its response or error hook threw at step {r.HookThrewStep}" };
        }

        var timedOut = at - r.AdmittedAt >= r.Timeout - deadlineTolerance - TimeSpan.FromMilliseconds(1);

        // The request whose message crashed the actor fails with the runtime's own error, naming the crash; only
        // its total timeout can overtake that, while an error hook holds it.
        if (r.CrashedInHand)
        {
            var crashed = new Dictionary<string, string> { [nameof(NetRuntimeException)] = "the host actor crashed with it in hand" };
            if (timedOut)
            {
                crashed[nameof(NetTimeoutException)] = "its total timeout passed while its error hook ran";
            }

            return crashed;
        }

        var allowed = new Dictionary<string, string>();

        // The answer it got last decides, or the last answer of any call it may have shared (a GET of the same
        // path, with deduplication on): a success is the response, a final error status or network failure its
        // typed error; a failure that was retried is followed by a later answer, so only the last one counts.
        // A POST without an idempotency key is never retried, so its first answer that the server acted on is its last.
        var sharers = dedup && r.Get ? all.Where(o => o.Get && o.Path == r.Path && o.AdmittedStep <= step) : [r];
        foreach (var c in sharers)
        {
            var answers = c.Answers.Where(a => a.Step <= step).ToList();
            if (answers.Count == 0)
            {
                continue;
            }

            var (kind, why) = answers[^1].Answer switch
            {
                WireAnswer.Ok => ("NetResponse 200", "answered 200"),
                WireAnswer.NotFound => (nameof(NotFoundException), "answered 404"),
                WireAnswer.Unauthorized => (nameof(UnauthorizedException), "answered 401 (after any refresh)"),
                WireAnswer.TooManyRequests => (nameof(RateLimitedException), "answered 429"),
                WireAnswer.Unavailable => (nameof(ServerException), "answered 503"),
                WireAnswer.Reset => (nameof(NetworkException), "its connection was reset"),
                WireAnswer.AttemptCancelled => (nameof(NetTimeoutException), "its attempt timed out on the wire"),
                WireAnswer.HookFailed => (nameof(NetInterceptorException), "a request hook threw"),
                _ => (null, null),
            };
            if (kind is not null)
            {
                allowed.TryAdd(kind, why! + (c == r ? "" : $" (request {c.Id}, whose call it may share)"));
            }

            // Redirects beyond max-redirects end in the redirect's own status error.
            if (c.Redirects > maxRedirects)
            {
                allowed.TryAdd(nameof(HttpStatusException), "redirected more than max-redirects times");
            }
        }

        // Its total timeout passed: the typed timeout (not before the deadline, less the host's tolerance).
        if (timedOut)
        {
            allowed.TryAdd(nameof(NetTimeoutException), "its total timeout passed");
        }

        // A Retry-After pause that outlasts a waiting request's budget answers it at once, rate limited; and a pause
        // lasts no longer than max-retry-after, whatever the server asked for (a decade, in the model), so only while
        // one is in force (its outcome decided then: a hook may hold it for longer).
        var decidedAt = r.HookEnteredAt ?? at;
        if (Pauses.Any(p => p <= decidedAt && decidedAt - p <= maxRetryAfter + deadlineTolerance))
        {
            allowed.TryAdd(nameof(RateLimitedException), "the origin was paused by a Retry-After (for at most max-retry-after)");
        }

        // An open circuit fails requests fast.
        if (CircuitStep <= step)
        {
            allowed.TryAdd(nameof(CircuitOpenException), "the circuit was open");
        }

        // Shutdown fails every request not on the wire.
        if (ShutdownStep <= step)
        {
            allowed.TryAdd(nameof(NetShutdownException), "the origin was shutting down");
        }

        // A refresh the server rejected ends the session for every request waiting for a token; one that failed
        // otherwise fails them with the realm's error.
        if (auth && SessionExpiredStep <= step)
        {
            allowed.TryAdd(nameof(SessionExpiredException), "the token was denied: session expired");
        }

        if (auth && TokenFailedStep <= step)
        {
            allowed.TryAdd(nameof(NetRuntimeException), "the token could not be had");
        }

        return allowed;
    }
}
