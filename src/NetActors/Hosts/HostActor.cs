using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>
/// Owns one origin's connection budget and the failure handling of its requests. At most <c>max-connections</c>
/// requests are on the wire at once; the rest wait in this actor's own bounded FIFO queue, and a request beyond
/// <c>queue-capacity</c> fails at once with <see cref="OverloadedException"/> (never a silent drop). Priority
/// requests (token refreshes) take the next free slot ahead of the queue. A request waiting for a token, a
/// retry delay or a shared wire request holds no slot. Transient failures of safe requests are retried with
/// backoff on actor timers; the origin's rate limit, <c>Retry-After</c> pauses and circuit breaker are applied
/// here. HTTP calls run asynchronously and return through <c>PipeTo</c>; user hooks never run on this actor.
/// </summary>
internal sealed partial class HostActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan DeadlineTolerance = TimeSpan.FromMilliseconds(20);
    private const string PumpTimer = "pump";
    private const string DeadlineTimer = "deadlines";

    private readonly HostContext _context;
    private readonly string _origin;
    private readonly int _maxConnections;
    private readonly int _queueCapacity;
    private readonly HttpMessageInvoker _http;
    private readonly HostLedger _ledger;
    private readonly LinkedList<Exchange> _queue = new();
    private readonly LinkedList<Exchange> _priority = new();
    private readonly HashSet<Exchange> _retrying = new(Exchange.Identity);
    private readonly Dictionary<string, RealmCache> _realms = new(StringComparer.Ordinal);
    private readonly Dictionary<SharedKey, Exchange> _shared = new();
    private readonly CircuitBreaker _breaker;
    private readonly RateGate _rate;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _drainReply;
    private Exchange? _probe;
    private readonly Telemetry.OriginGauge _gauge;
    private readonly Stack<CancellationTokenSource> _sources = new();
    private readonly List<Exchange> _expired = [];
    private long _deadlinesDueAt = long.MaxValue;

    private HostActor(HostContext context, string origin, ClientSettings connection, HostLedger ledger)
    {
        _context = context;
        _origin = origin;
        _ledger = ledger;
        _maxConnections = connection.MaxConnections;
        _queueCapacity = connection.QueueCapacity;
        _http = context.Runtime.CreateInvoker(origin, connection);
        _breaker = new CircuitBreaker(connection.CircuitBreaker);
        _rate = new RateGate(connection.RateLimit, context.Runtime.Fleet);
        _gauge = context.Runtime.Metrics.Origin(origin);

        Receive<Exchange>(Admit);
        Receive<AttemptCompleted>(OnAttemptCompleted);
        Receive<ExchangeDeadline>(d => OnDeadline(d.Exchange));
        Receive<DeadlinesDue>(_ => OnDeadlinesDue());
        Receive<RetryDue>(r => OnRetryDue(r.Exchange));
        Receive<Pump>(_ => PumpQueue());
        Receive<Auth.TokenGranted>(OnTokenGranted);
        Receive<Auth.TokenDenied>(OnTokenDenied);
        Receive<Auth.TokenUnavailable>(OnTokenUnavailable); // auth:
        Receive<CircuitProbeDue>(_ => OnCircuitProbeDue());
        Receive<Drain>(OnDrain);
        Receive<InjectFault>(f => throw new InvalidOperationException(f.Reason));
    }

    /// <summary>Props for the host of <paramref name="origin"/>. The ledger outlives restarts of the actor.</summary>
    public static Props Props(HostContext context, string origin, ClientSettings connection, HostLedger ledger) =>
        Hosting.ActorProps.Of(() => new HostActor(context, origin, connection, ledger));

    public ITimerScheduler Timers { get; set; } = null!;

    private HashSet<Exchange> InFlight => _ledger.InFlight;

    private DeadlineWheel Deadlines => _ledger.Deadlines;

    private DateTimeOffset Now => _context.Time.GetUtcNow();

    // ---- admission ---------------------------------------------------------------------------------------

    private void Admit(Exchange ex)
    {
        if (ex.IsCompleted)
        {
            HandOffFollowers(ex);
            Release(ex);
            return;
        }

        ex.Owner = Self;
        if (_drainReply is not null)
        {
            Finish(ex, new NetShutdownException(ex.Info()));
            return;
        }

        if (ex.State == ExchangeState.New)
        {
            ex.Begin(ex.Request.Timeout ?? ex.Client.TotalTimeout);
            // Once per logical request: a redirected exchange keeps its first origin and its idempotency key.
            var problem = ex.OriginalOrigin is null ? Prepare(ex, _context) : null;
            if (problem is not null)
            {
                Finish(ex, new InvalidRequestException(ex.Info(), problem));
                return;
            }
        }

        if (ex.State == ExchangeState.New && !ex.Priority && TryAnswerFromCache(ex))
        {
            return;
        }

        if (!ex.Priority && _breaker.Enabled && _breaker.State != CircuitState.Closed)
        {
            // When half-open, Allow() lets this exchange through as the one probe.
            var allowed = _breaker.Allow(Now, out var retryIn, out var changed);
            Publish(changed);
            if (!allowed)
            {
                FailOrServeStale(ex, new CircuitOpenException(ex.Info(), _origin, retryIn));
                return;
            }

            if (_breaker.State == CircuitState.HalfOpen)
            {
                _probe = ex; // its outcome decides the circuit; if it leaves without one, the slot is given back
            }
        }

        if (TryFollow(ex))
        {
            return;
        }

        Enqueue(ex, front: false, armDeadline: false);
        PumpQueue();
        if (ex.State == ExchangeState.Queued)
        {
            ArmTotal(ex); // it waits after all (most requests go straight on the wire and never need the wheel)
        }
    }

    /// <summary>Resolves a relative URL, checks headers, sets the idempotency key. Null when fine.</summary>
    private static string? Prepare(Exchange ex, HostContext context)
    {
        if (ex.Target is null)
        {
            var (target, problem) = RequestTargets.Resolve(ex.Client, ex.Request.Url);
            if (problem is not null)
            {
                return problem;
            }

            ex.Target = target;
        }

        ex.OriginalOrigin = ex.OriginKey; // the gateway's key of the first hop: the target's origin, not made again
        var headers = ex.Request.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            var problem = HeaderRules.Check(name, value);
            if (problem is not null)
            {
                return problem;
            }
        }

        ex.JsonOptions = context.Runtime.JsonFor(ex.Client);
        if (ex.Content is not null)
        {
            try
            {
                ex.Content = ex.Content.ForClient(ex.JsonOptions);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
            {
                return "the body could not be serialized as JSON: " + e.Message;
            }
        }

        var retry = ex.Client.Retry;
        ex.IdempotencyKey = ex.Request.IdempotencyKey ?? HeaderValue(ex.Request.Headers, retry.IdempotencyHeader);
        if (ex.IdempotencyKey is null && retry.IdempotencyKeys && !RetryClassifier.IsIdempotent(ex.Method))
        {
            ex.IdempotencyKey = Guid.NewGuid().ToString("N"); // once per logical request, the same on every attempt
        }

        return ex.IdempotencyKey is not null ? HeaderRules.Check(retry.IdempotencyHeader, ex.IdempotencyKey) : null;
    }

    private static string? HeaderValue(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return headers[i].Value;
            }
        }

        return null;
    }

    private void Enqueue(Exchange ex, bool front, bool armDeadline = true)
    {
        if (ex.Priority)
        {
            ex.State = ExchangeState.Queued;
            if (armDeadline)
            {
                ArmTotal(ex);
            }

            ex.QueueNode = front ? _priority.AddFirst(ex) : _priority.AddLast(ex);
            return;
        }

        if (!front && _queue.Count >= _queueCapacity && InFlight.Count >= _maxConnections)
        {
            Finish(ex, new OverloadedException(ex.Info(), _origin, _queueCapacity));
            return;
        }

        ex.State = ExchangeState.Queued;
        if (armDeadline)
        {
            ArmTotal(ex);
        }

        ex.QueueNode = front ? _queue.AddFirst(ex) : _queue.AddLast(ex);
    }

    // ---- the pump ----------------------------------------------------------------------------------------

    /// <summary>Starts queued exchanges while slots are free: priority ones first, then FIFO, within the rate.</summary>
    private void PumpQueue()
    {
        try
        {
            PumpQueueCore();
        }
        finally
        {
            _gauge.Set(_queue.Count + _priority.Count, InFlight.Count);
        }
    }

    private void PumpQueueCore()
    {
        while (InFlight.Count < _maxConnections)
        {
            var next = Peek(_priority) ?? Peek(_queue);
            if (next is null)
            {
                return;
            }

            if (!next.Priority && !_rate.TryAcquire(Now, out var wait))
            {
                // Over the rate (or paused by a Retry-After): the queue waits, nothing is rejected.
                if (!Timers.IsTimerActive(PumpTimer))
                {
                    Timers.StartSingleTimer(PumpTimer, Pump.Instance, wait);
                }

                return;
            }

            next.QueueNode!.List!.Remove(next.QueueNode);
            next.QueueNode = null;
            if (!next.Priority && _breaker.State == CircuitState.Open)
            {
                // Opened while this one waited: it fails fast too rather than adding to the failing upstream.
                FailOrServeStale(next, new CircuitOpenException(next.Info(), _origin, _breaker.UntilHalfOpen(Now)));
                continue;
            }

            if (Authorize(next))
            {
                Dispatch(next);
            }
        }
    }

    private Exchange? Peek(LinkedList<Exchange> list)
    {
        while (list.First is { } node)
        {
            if (!node.Value.IsCompleted || node.Value.HasLiveFollowers)
            {
                return node.Value;
            }

            list.RemoveFirst();
            node.Value.QueueNode = null;
            Drop(node.Value);
        }

        return null;
    }

    private void Dispatch(Exchange ex)
    {
        HttpRequestMessage message;
        try
        {
            message = BuildMessage(ex);
            DPoPFor(ex)?.Attach(message, ex.Authorization); // auth: a fresh DPoP proof per attempt
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            Finish(ex, new InvalidRequestException(ex.Info(), e.Message));
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Finish(ex, new InvalidRequestException(ex.Info(), "the body could not be opened: " + e.Message));
            return;
        }

        ex.State = ExchangeState.InFlight;
        ex.Attempts++;
        InFlight.Add(ex);
        _context.Runtime.Metrics.Attempts.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        Deadlines.Remove(ex);
        // A download's body may take as long as the whole request is allowed to (WithTimeout for large files).
        ex.ArmAttempt(_sources.TryPop(out var source) ? source : new CancellationTokenSource(),
            ex.Request.Download is null ? ex.Client.ResponseTimeout : ex.TotalTimeout);
        _ = RunAttemptAsync(_http, ex, message, ex.Client.MaxResponseSize, ex.Token, Self);
    }

    private static HttpRequestMessage BuildMessage(Exchange ex)
    {
        // After a redirect to another origin, no credential header of the original request goes along (the
        // realm's bearer token is decided per hop by Authorize; these are hand-set ones such as Basic or Cookie).
        var crossed = ex.Redirects > 0 && ex.OriginalOrigin is { } first && first != Origins.KeyOf(ex.Target!);
        var message = new HttpRequestMessage(ex.Method, ex.Target);
        var content = ex.Content?.CreateHttpContent();
        if (content is not null && ex.Request.UploadProgress is { } progress)
        {
            content = new Content.ProgressContent(content, progress, ex.Attempts + 1);
        }

        message.Content = content;
        var requestHeaders = ex.Request.Headers;
        var defaultHeaders = ex.Client.DefaultHeaders;
        for (var i = 0; i < defaultHeaders.Count; i++)
        {
            var (name, value) = defaultHeaders[i];
            if (HeaderValue(requestHeaders, name) is null && !(crossed && ex.Redaction.IsSecretHeader(name)))
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (ex.Authorization is { } authorization)
        {
            message.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (ex.Cached is { } cached)
        {
            // Revalidation of a stored response: a 304 answers with its body.
            if (cached.ETag is { } etag)
            {
                message.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }
            else if (cached.LastModified is { } modified)
            {
                message.Headers.IfModifiedSince = modified;
            }
        }

        var idempotencyHeader = ex.Client.Retry.IdempotencyHeader;
        if (ex.IdempotencyKey is { } key)
        {
            message.Headers.TryAddWithoutValidation(idempotencyHeader, key);
        }

        for (var i = 0; i < requestHeaders.Count; i++)
        {
            var (name, value) = requestHeaders[i];
            if ((crossed && ex.Redaction.IsSecretHeader(name)) ||
                (ex.Authorization is not null && string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase)) ||
                (ex.IdempotencyKey is not null && string.Equals(name, idempotencyHeader, StringComparison.OrdinalIgnoreCase)))
            {
                continue; // the realm's token and the idempotency key are set above
            }

            if (!message.Headers.TryAddWithoutValidation(name, value) &&
                (content is null || !content.Headers.TryAddWithoutValidation(name, value)))
            {
                message.Dispose();
                throw new InvalidOperationException(content is null
                    ? $"header '{name}' describes content, but the request has no body."
                    : $"header '{name}' cannot be set on this request.");
            }
        }

        ContentDecoding.Offer(message);
        return message;
    }

    /// <summary>
    /// One attempt, off the actor. It never throws: its outcome goes to <paramref name="self"/> as an
    /// <see cref="AttemptCompleted"/> (what <c>PipeTo(Self)</c> would do, without another async layer per request).
    /// </summary>
    private static async Task RunAttemptAsync(HttpMessageInvoker http, Exchange ex,
        HttpRequestMessage message, long maxResponseSize, CancellationToken token, IActorRef self)
    {
        HttpResponseMessage? response = null;
        AttemptCompleted done;
        try
        {
            if (ex.Hooks.Interceptors.Count > 0)
            {
                await RunRequestInterceptorsAsync(ex, message, token).ConfigureAwait(false);
            }

            response = await http.SendAsync(message, token).ConfigureAwait(false);
            ContentDecoding.Apply(response, message.Method);
            var body = ex.Request.Download is { } download && response.IsSuccessStatusCode
                ? await BodyReader.WriteToFileAsync(response.Content, download, ex.Attempts, token).ConfigureAwait(false)
                : await BodyReader.ReadAsync(response.Content, maxResponseSize, token).ConfigureAwait(false);

            var delivered = IsPlainSuccess(ex, response) && ex.TryClaim() ? ex.ResponseOf(response, body) : null;
            done = new AttemptCompleted(ex, response, body, null, delivered);
        }
        catch (Exception e)
        {
            done = new AttemptCompleted(ex, response, default, e);
        }
        finally
        {
            // The body is read (or abandoned): disposing releases the connection to the pool, or closes it.
            response?.Dispose();
            message.Dispose();
        }

        self.Tell(done, ActorRefs.NoSender);
        if (done.Delivered is { } result)
        {
            ex.CompleteClaimed(result); // after the Tell: the caller's next request may run right here
        }
    }

    /// <summary>
    /// A plain success needs no decision of the actor (no retry, redirect, token refresh or hook), so the attempt
    /// hands it to the caller from its own thread, as a bare HttpClient would, one hop sooner; the actor still does
    /// all the bookkeeping (slot, circuit, dedup followers, metrics, log) when the attempt's message arrives.
    /// Anything that must happen on the actor before a caller sees a 2xx has to exclude the exchange here.
    /// </summary>
    private static bool IsPlainSuccess(Exchange ex, HttpResponseMessage response) =>
        (int)response.StatusCode is >= 200 and <= 299 && ex.Hooks.Interceptors.Count == 0;

    /// <summary>The OnRequest hooks, in order (their own method, so an attempt without them carries none of their state).</summary>
    private static async Task RunRequestInterceptorsAsync(Exchange ex, HttpRequestMessage message, CancellationToken token)
    {
        foreach (var interceptor in ex.Hooks.Interceptors)
        {
            try
            {
                await interceptor.OnRequestAsync(message, new NetInterceptorContext(ex.Request, ex.Attempts), token)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                throw new InterceptorFailure(interceptor.Name, e);
            }
        }
    }

    // ---- outcomes ----------------------------------------------------------------------------------------

    private void OnAttemptCompleted(AttemptCompleted done)
    {
        var ex = done.Exchange;
        InFlight.Remove(ex);
        ReturnSource(ex);
        try
        {
            if (ex.IsCompleted && !ex.HasLiveFollowers && done.Delivered is null)
            {
                // Cancelled by its caller while on the wire, and nobody shares it: the outcome is delivered. A
                // download's caller is gone too, so the file this attempt may have finished is nobody's.
                if (ex.Request.Download is { } download)
                {
                    BodyReader.TryDelete(download.TempPath);
                }

                Drop(ex);
                return;
            }

            if (done.Error is not null)
            {
                var failure = Classify(ex, done.Error);
                if (failure is OperationCanceledException)
                {
                    // Its own caller went away: followers did not, they get a wire request of their own.
                    Finish(ex, failure);
                    return;
                }

                RecordOutcome(failure is NetworkException or NetTimeoutException);
                if (!TryRetry(ex, failure, null))
                {
                    FailOrServeStale(ex, failure);
                }

                return;
            }

            OnResponse(ex, done.Response!, done.Body, done.Delivered);
        }
        finally
        {
            PumpQueue();
            CheckDrained();
        }
    }

    /// <summary>
    /// Takes the attempt's cancellation source back: reset for the next attempt of this origin when nothing can
    /// still hold its token (no interceptor saw it) and it was not cancelled, else disposed.
    /// </summary>
    private void ReturnSource(Exchange ex)
    {
        if (ex.EndAttempt() is not { } source)
        {
            return;
        }

        if (ex.Hooks.Interceptors.Count == 0 && source.TryReset())
        {
            _sources.Push(source);
        }
        else
        {
            source.Dispose();
        }
    }

    /// <summary>A response arrived; <paramref name="delivered"/> is what the attempt already gave the caller (a 2xx), or null.</summary>
    private void OnResponse(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body, NetResponse? delivered)
    {
        RememberDPoPNonce(ex, response); // auth:
        var status = (int)response.StatusCode;
        RecordOutcome(status is 500 or 502 or 503 or 504 or 408);
        if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location &&
            ex.Client.MaxRedirects > 0)
        {
            FollowRedirect(ex, response.StatusCode, location);
            return;
        }

        if (TryCompleteNotModified(ex, response))
        {
            return;
        }

        if (status == 401 && ex.Authorization is not null)
        {
            OnUnauthorized(ex, response, body);
            return;
        }

        if (status is >= 200 and <= 399 || ex.Request.AllowErrorStatus)
        {
            if (status is >= 200 and <= 299)
            {
                Vouch(ex); // auth: the server accepted this token version
            }

            Complete(ex, response, body, delivered);
            return;
        }

        var retryAfter = RetryAfter.From(response.Headers.RetryAfter, Now);
        if (retryAfter is { } pause && status is 429 or 503)
        {
            _rate.PauseUntil(Now + pause); // the whole origin waits, not only this request
        }

        var problem = IsProblemJson(response) ? NetProblemDetails.TryParse(body.Span) : null;
        var failure = HttpStatusException.For(response.StatusCode, ex.Info(), problem, retryAfter);
        if (!TryRetry(ex, failure, retryAfter))
        {
            FailOrServeStale(ex, failure);
        }
    }

    private static bool IsProblemJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media &&
        (media.Equals("application/problem+json", StringComparison.OrdinalIgnoreCase) ||
         media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private void RecordOutcome(bool failed)
    {
        _probe = null;
        Publish(_breaker.Record(failed, Now));
    }

    private void Publish(CircuitStateChanged? changed)
    {
        if (changed is null)
        {
            return;
        }

        var @event = changed with { Origin = _origin };
        _gauge.SetCircuit(@event.Current);
        _log.Info("Circuit for {0}: {1} -> {2}", _origin, @event.Previous, @event.Current);
        Context.System.EventStream.Publish(@event);
        if (@event.Current == CircuitState.Open)
        {
            Timers.StartSingleTimer("circuit-probe", CircuitProbeDue.Instance, _breaker.UntilHalfOpen(Now));
        }
    }

    private void OnCircuitProbeDue()
    {
        // Moves an open circuit to half-open on time, so observers (health checks) see it without traffic. The
        // probe slot Allow() reserves belongs to no request here, so it is handed back for the next one.
        if (_breaker.State == CircuitState.Open && _breaker.Allow(Now, out _, out var changed))
        {
            _breaker.ProbeAbandoned();
            Publish(changed);
        }
    }

    private void FollowRedirect(Exchange ex, HttpStatusCode status, Uri location)
    {
        if (ex.Redirects >= ex.Client.MaxRedirects)
        {
            Fail(ex, new HttpStatusException(status, ex.Info(), null));
            return;
        }

        var next = location.IsAbsoluteUri ? location : new Uri(ex.Target!, location);
        if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps)
        {
            Fail(ex, new InvalidRequestException(ex.Info(), $"redirect to an unsupported scheme '{next.Scheme}'."));
            return;
        }

        // The stored response was for the first URL: its validators mean nothing to the next one. And an unsafe
        // request answered with a redirect has still changed its URL's resource.
        ex.Cached = null;
        InvalidateAfterUnsafe(ex, response: null);
        var code = (int)status;
        if (code == 303 || (code is 301 or 302 && ex.Method == HttpMethod.Post))
        {
            ex.Method = ex.Method == HttpMethod.Head ? HttpMethod.Head : HttpMethod.Get;
            ex.Content = null;
        }

        if (_context.Log.IsEnabled(LogLevel.Debug))
        {
            _context.Log.Redirecting(ex.Method.Method, ex.Redaction.Url(ex.Target!), code, ex.Redaction.Url(next));
        }

        ex.Redirects++;
        ex.Target = next;
        var origin = Origins.KeyOf(next);
        if (origin == _origin)
        {
            Enqueue(ex, front: true);
            return;
        }

        // Another origin: its own host actor (and its own cap and realm check) takes over. Followers stay here
        // and get a wire request of their own: no list is shared between two actors.
        HandOffFollowers(ex);
        LeaveShared(ex);
        ex.OriginKey = origin;
        ex.Owner = null;
        ex.State = ExchangeState.New;
        Deadlines.Remove(ex); // the next host keeps its deadline from its admission on
        _context.Gateway.Tell(ex);
    }

    // ---- completion --------------------------------------------------------------------------------------

    private void Complete(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body, NetResponse? delivered)
    {
        var result = delivered ?? ex.ResponseOf(response, body);
        if (_context.Log.IsEnabled(LogLevel.Debug))
        {
            _context.Log.Completed(ex.Method.Method, ex.Redaction.Url(ex.Target!), (int)response.StatusCode,
                result.Elapsed.TotalMilliseconds, ex.Attempts, ex.Request.Client);
        }

        RememberResponse(ex, response, body);
        CompleteShared(ex, result, delivered is not null);
    }

    /// <summary>
    /// Delivers <paramref name="result"/> to the exchange (or, when <paramref name="delivered"/>, records the outcome
    /// its attempt already handed over) and to everything that shares its wire request.
    /// </summary>
    private void CompleteShared(Exchange ex, NetResponse result, bool delivered = false)
    {
        LeaveShared(ex);
        Deliver(ex, result, null, delivered);
        if (ex.Followers is { } followers)
        {
            foreach (var follower in followers)
            {
                Deliver(follower, result.For(follower.Request), null);
            }
        }
    }

    /// <summary>Fails the exchange (and its followers), unless a stale cached response may answer instead.</summary>
    private void FailOrServeStale(Exchange ex, Exception failure)
    {
        if (!TryServeStale(ex, failure))
        {
            Fail(ex, failure);
        }
    }

    /// <summary>Fails the exchange and everything that shares its wire request.</summary>
    private void Fail(Exchange ex, Exception error)
    {
        var followers = ex.Followers;
        ex.Followers = null;
        Finish(ex, error);
        if (followers is not null)
        {
            foreach (var follower in followers)
            {
                follower.Leader = null;
                Finish(follower, error);
            }
        }
    }

    /// <summary>Delivers a failure (once) and logs it; the exchange leaves this actor.</summary>
    private void Finish(Exchange ex, Exception error)
    {
        Detach(ex);
        if (!ex.IsCompleted)
        {
            LogFailure(ex, error);
        }

        Deliver(ex, null, error);
        HandOffFollowers(ex);
    }

    /// <summary>
    /// A leader that failed on its own (its deadline, its caller's cancellation) does not take its followers
    /// with it: they are admitted again, and the first becomes the new leader.
    /// </summary>
    private void HandOffFollowers(Exchange ex)
    {
        if (ex.Followers is not { Count: > 0 } followers)
        {
            return;
        }

        ex.Followers = null;
        foreach (var follower in followers.Where(f => !f.IsCompleted))
        {
            follower.Leader = null;
            follower.State = ExchangeState.Queued;
            Self.Tell(follower);
        }
    }

    /// <summary>Takes the exchange out of whatever list or shared request holds it here.</summary>
    private void Detach(Exchange ex)
    {
        if (ex.QueueNode is { } node)
        {
            node.List?.Remove(node);
            ex.QueueNode = null;
        }

        if (_retrying.Remove(ex))
        {
            Timers.Cancel(ex);
        }

        if (ex.Leader is { } leader)
        {
            leader.Followers?.Remove(ex);
            ex.Leader = null;
        }

        LeaveShared(ex);
    }

    /// <summary>
    /// Hands the outcome to the caller. With interceptors, their OnResponse/OnError hooks run first, off the
    /// actor; a hook that throws turns the outcome into a <see cref="NetInterceptorException"/> naming it. With
    /// <paramref name="delivered"/> the response already went to the caller: only its outcome is recorded here.
    /// </summary>
    private void Deliver(Exchange ex, NetResponse? response, Exception? error, bool delivered = false)
    {
        ex.State = ExchangeState.Done;
        if (response is not null)
        {
            response.JsonOptions ??= ex.JsonOptions;
        }

        if (!ex.IsCompleted || delivered)
        {
            _context.Runtime.Metrics.RecordOutcome(ex.Request.Client, ex.Method, response is not null
                ? (int)response.StatusCode
                : (error as HttpStatusException)?.StatusCode is { } code ? (int)code : null, error,
                delivered ? response!.Elapsed : ex.Elapsed);
            if (response?.Deduplicated == true)
            {
                _context.Runtime.Metrics.Deduplicated.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
            }
        }

        var interceptors = ex.Hooks.Interceptors;
        if (interceptors.Count == 0 || ex.IsCompleted)
        {
            if (response is not null)
            {
                ex.TryComplete(response);
            }
            else
            {
                ex.TryFail(error!);
            }

            Settle(ex);
            return;
        }

        if (!InFlight.Contains(ex))
        {
            ArmTotal(ex); // the caller does not wait for hooks past its total timeout
        }

        RunInterceptors(ex, response, error, Self);
    }

    /// <summary>
    /// Runs the OnResponse/OnError hooks off the actor, then delivers. (Its own method: the closure is made only
    /// for clients with interceptors, not on every delivery.)
    /// </summary>
    private static void RunInterceptors(Exchange ex, NetResponse? response, Exception? error, IActorRef self)
    {
        var interceptors = ex.Hooks.Interceptors;
        _ = Task.Run(async () =>
        {
            var context = new NetInterceptorContext(ex.Request, ex.Attempts);
            foreach (var interceptor in interceptors)
            {
                var hook = response is not null ? "OnResponse" : "OnError";
                try
                {
                    if (response is not null)
                    {
                        await interceptor.OnResponseAsync(response, context, ex.CallerToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await interceptor.OnErrorAsync(error!, context, ex.CallerToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e)
                {
                    error = new NetInterceptorException(ex.Info(), interceptor.Name, hook, e);
                    response = null;
                    break;
                }
            }

            if (response is not null)
            {
                ex.TryComplete(response);
            }
            else
            {
                ex.TryFail(error!);
            }

            self.Tell(new ExchangeDeadline(ex), ActorRefs.NoSender); // its owner may release it now
        });
    }

    /// <summary>Frees the exchange's timers once nothing of it is on the wire.</summary>
    private void Settle(Exchange ex)
    {
        if (ReferenceEquals(ex, _probe))
        {
            // The half-open probe left without an outcome: let the next request probe.
            _probe = null;
            _breaker.ProbeAbandoned();
        }

        if (!InFlight.Contains(ex))
        {
            Release(ex);
        }
    }

    /// <summary>Frees the exchange: out of the deadline wheel, its caller registration disposed.</summary>
    private void Release(Exchange ex)
    {
        Deadlines.Remove(ex);
        ex.Release();
    }

    /// <summary>
    /// An exchange whose caller already has its outcome and that nobody shares leaves this actor: out of every
    /// list, out of the dedup table (so no later request follows it), its timers freed.
    /// </summary>
    private void Drop(Exchange ex)
    {
        Detach(ex);
        ex.State = ExchangeState.Done;
        Settle(ex);
    }

    private void LogFailure(Exchange ex, Exception error)
    {
        var url = ex.Target is null ? ex.Redaction.Url(ex.Request.Url) : ex.Redaction.Url(ex.Target);
        if (error is HttpStatusException status && (int)status.StatusCode < 500)
        {
            if (_context.Log.IsEnabled(LogLevel.Debug))
            {
                _context.Log.Rejected(ex.Method.Method, url, (int)status.StatusCode, ex.Elapsed.TotalMilliseconds,
                    ex.Attempts, ex.Request.Client, error.GetType().Name);
            }

            return;
        }

        if (error is OperationCanceledException or InvalidRequestException or OverloadedException or CircuitOpenException
            or NetShutdownException)
        {
            return;
        }

        if (_context.Log.IsEnabled(LogLevel.Warning))
        {
            _context.Log.Failed(ex.Method.Method, url, ex.Elapsed.TotalMilliseconds, ex.Attempts, ex.Request.Client,
                error.Message);
        }
    }

    /// <summary>Turns what an attempt threw into the typed error the caller gets.</summary>
    private static Exception Classify(Exchange ex, Exception error)
    {
        switch (error)
        {
            case InterceptorFailure hook:
                return new NetInterceptorException(ex.Info(), hook.Interceptor, "OnRequest", hook.InnerException!);
            case OperationCanceledException when ex.CallerCancelled && (ex.Aborted || !ex.AttemptCancelled):
                return new OperationCanceledException("The caller cancelled the request.", error, ex.CallerToken);
            case OperationCanceledException when ex.AttemptCancelled:
                return ex.DeadlineIsTotal
                    ? new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total, error)
                    : new NetTimeoutException(ex.Info(), ex.Client.ResponseTimeout, TimeoutKind.Attempt, error);
            case OperationCanceledException { InnerException: TimeoutException } or
                HttpRequestException { InnerException: TimeoutException }:
                return new NetTimeoutException(ex.Info(), ex.Client.ConnectTimeout, TimeoutKind.Connect, error);
            case BodyTooLargeException big:
                return new ResponseTooLargeException(ex.Info(), big.Limit, big.Declared);
            case HttpRequestException http:
                return new NetworkException(ex.Info(), NetworkReason(http), error);
            case IOException or SocketException:
                return new NetworkException(ex.Info(), "the connection failed while the response was read", error);
            case OperationCanceledException:
                return new NetworkException(ex.Info(), "the request was aborted", error);
            default:
                return new NetRuntimeException(ex.Info(), error.GetType().Name + ": " + error.Message, error);
        }
    }

    private static string NetworkReason(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.NameResolutionError => "the host name could not be resolved",
        HttpRequestError.ConnectionError when e.InnerException is SocketException
        {
            SocketErrorCode: SocketError.ConnectionRefused,
        } => "the connection was refused",
        HttpRequestError.ConnectionError => "the connection could not be made",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "the connection was closed before the response was complete",
        HttpRequestError.InvalidResponse => "the response was not valid HTTP",
        HttpRequestError.ProxyTunnelError => "the proxy tunnel could not be opened",
        _ => "the request could not be sent",
    };

    // ---- deadlines and cancellation ----------------------------------------------------------------------

    /// <summary>Keeps the exchange's total deadline while it waits here (not on the wire).</summary>
    private void ArmTotal(Exchange ex)
    {
        var due = Deadlines.Add(ex);
        if (due < _deadlinesDueAt)
        {
            ScheduleDeadlines(due);
        }
    }

    private void ScheduleDeadlines(long due)
    {
        _deadlinesDueAt = due;
        var delay = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
        Timers.StartSingleTimer(DeadlineTimer, DeadlinesDue.Instance, delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    /// <summary>The earliest slot of the deadline wheel is due: every exchange whose total timeout ran out is told.</summary>
    private void OnDeadlinesDue()
    {
        _deadlinesDueAt = long.MaxValue;
        Deadlines.Expire(Stopwatch.GetTimestamp(), _expired);
        try
        {
            foreach (var ex in _expired)
            {
                OnDeadline(ex);
            }
        }
        finally
        {
            _expired.Clear();
            if (Deadlines.NextDue() is { } next && next < _deadlinesDueAt)
            {
                ScheduleDeadlines(next);
            }

            PumpQueue();
        }
    }

    protected override void PreStart()
    {
        // After a restart the wheel (in the ledger) still holds deadlines, but the timer died with the old actor.
        if (Deadlines.NextDue() is { } next)
        {
            ScheduleDeadlines(next);
        }
    }

    private void OnDeadline(Exchange ex)
    {
        if (!ReferenceEquals(ex.Owner, Self))
        {
            return; // not ours (anymore)
        }

        if (ex.State == ExchangeState.InFlight)
        {
            // The attempt itself observes a deadline. A caller that went away aborts the call, unless others share it.
            if (ex.CallerCancelled && !ex.HasLiveFollowers)
            {
                ex.Abort();
            }

            return;
        }

        if (ex.State == ExchangeState.Done)
        {
            if (!ex.IsCompleted && ex.Remaining <= DeadlineTolerance)
            {
                // Its interceptors are still running past the total timeout: the caller does not wait for them.
                ex.TryFail(new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total));
            }

            Settle(ex);
            return;
        }

        if (!ex.CallerCancelled && ex.Remaining > DeadlineTolerance)
        {
            return; // not due: its deadline is still in the wheel
        }

        if (ex.HasLiveFollowers && ex.CallerCancelled && ex.State != ExchangeState.Following)
        {
            return; // it carries the shared request for others; its own caller already has its outcome
        }

        Finish(ex, ex.CallerCancelled
            ? new OperationCanceledException("The caller cancelled the request.", ex.CallerToken)
            : TokenTimeout(ex) ?? new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total)); // auth: never a bare timeout while the token endpoint fails
    }

    // ---- shutdown and failure ----------------------------------------------------------------------------

    /// <summary>
    /// Graceful shutdown: queued and waiting requests fail now with <see cref="NetShutdownException"/>, new ones
    /// are refused, requests on the wire may finish; <see cref="Drained"/> is sent when none is left.
    /// </summary>
    private void OnDrain(Drain drain)
    {
        _drainReply = Sender;
        var waiting = _realms.Values.SelectMany(r => r.Waiting);
        var followers = InFlight.Where(e => e.Followers is not null).SelectMany(e => e.Followers!);
        foreach (var ex in _priority.Concat(_queue).Concat(waiting).Concat(_retrying).Concat(followers).ToList())
        {
            Finish(ex, new NetShutdownException(ex.Info()));
        }

        CheckDrained();
    }

    private void CheckDrained()
    {
        if (_drainReply is not null && InFlight.Count == 0)
        {
            _drainReply.Tell(Drained.Instance);
        }
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // The supervisor logs the failure. The message in hand fails; everything else this actor held is handed
        // to the next incarnation (in order) and requests on the wire stay in the ledger, so the cap holds.
        _log.Warning("Host actor for {0} failed ({1}); restarting without losing its requests", _origin, reason.GetType().Name);
        var inHand = message switch
        {
            Exchange e => e,
            AttemptCompleted a => a.Exchange,
            _ => null,
        };
        if (inHand is not null)
        {
            // Not removed from the ledger: if it is on the wire again (a retry dispatched in this very message),
            // that attempt still counts against the cap and keeps its deadline.
            Finish(inHand, new NetRuntimeException(inHand.Info(), "the host actor failed while handling it: " + reason.Message, reason));
        }

        var waiting = _realms.Values.SelectMany(r => r.Waiting);
        foreach (var ex in _priority.Concat(_queue).Concat(waiting).Concat(_retrying).ToList())
        {
            if (ReferenceEquals(ex, inHand))
            {
                continue;
            }

            ex.QueueNode = null;
            ex.State = ExchangeState.Queued;
            Self.Tell(ex);
        }

        // No base call: the actor has no children, and PostStop must not fail what was handed over.
    }

    protected override void PostStop()
    {
        var waiting = _realms.Values.SelectMany(r => r.Waiting);
        var followers = InFlight.Where(e => e.Followers is not null).SelectMany(e => e.Followers!);
        foreach (var ex in _priority.Concat(_queue).Concat(waiting).Concat(_retrying).Concat(followers).Concat(InFlight).ToList())
        {
            ex.Abort();
            if (ex.TryFail(new NetShutdownException(ex.Info())))
            {
                LogFailure(ex, new NetShutdownException(ex.Info()));
            }
        }

        InFlight.Clear();
        _http.Dispose();
    }

}
