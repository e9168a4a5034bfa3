using System.Diagnostics;
using Akka.Actor;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Hosts;

/// <summary>Where a request is in its life.</summary>
internal enum ExchangeState
{
    /// <summary>Accepted by the gateway, not yet by a host.</summary>
    New,

    /// <summary>Waiting in the host's queue for a connection slot.</summary>
    Queued,

    /// <summary>An attempt is on the wire; it holds a slot.</summary>
    InFlight,

    /// <summary>Waiting for a token from the realm's TokenActor; holds no slot.</summary>
    WaitingForToken,

    /// <summary>Waiting for its retry delay; holds no slot.</summary>
    WaitingForRetry,

    /// <summary>Sharing the wire request of an identical exchange (deduplication); holds no slot.</summary>
    Following,

    /// <summary>
    /// Next in line with its message built: the attempt of this origin that completes next starts it on its own
    /// thread, in the slot it frees (see <see cref="AdmissionLedger.TakeReady"/>); holds no slot until then.
    /// </summary>
    Ready,

    /// <summary>Its outcome has been delivered.</summary>
    Done,
}

/// <summary>
/// One logical request from acceptance to outcome: the request, its resolved client, its current target,
/// its attempts, its deadline and the one place its outcome goes. It is owned by exactly one actor at a time
/// (the gateway, then a HostActor) and only that actor changes it; the outcome is delivered exactly once.
/// Its state is grouped by concern below (where it goes, its place in the origin's books, time, auth, retries,
/// shared calls, the cache, the outcome). A request ends through one of two verbs, <see cref="TryComplete"/> or
/// <see cref="TryFail"/>; the attempt that read a plain 2xx claims the outcome instead (<see cref="TryClaim"/>)
/// and hands it over on its own thread (<see cref="CompleteClaimed"/>), a streamed one likewise
/// (<see cref="TryClaimStream"/>).
/// </summary>
internal sealed class Exchange : IThreadPoolWorkItem, ITracedExchange
{
    private readonly TaskCompletionSource<NetResponse>? _tcs;
    private readonly IActorRef? _replyTo;
    private readonly CancellationToken _callerToken;
    private int _completed;
    private object? _outcome;
    private CancellationTokenSource? _attempt;
    private CancellationTokenRegistration _callerRegistration;
    private bool _begun;
    private bool _deadlineIsTotal;
    private readonly TimeProvider _clock;
    private AdmissionLedger? _ledger;
    private int _counted;

    private Exchange(NetRequest request, TaskCompletionSource<NetResponse>? tcs, IActorRef? replyTo,
        CancellationToken callerToken, bool priority, TimeProvider? clock)
    {
        _clock = clock ?? TimeProvider.System;
        Priority = priority;
        Request = request;
        _tcs = tcs;
        _replyTo = replyTo;
        _callerToken = callerToken;
        Method = request.Method;
        Content = request.Content;
        StartedAt = _clock.GetTimestamp();
    }

    /// <summary>
    /// An exchange whose outcome completes a task (the facade's path). The task's continuations run where it is
    /// completed: outcomes decided on an actor are handed over through the thread pool (see <see cref="TryComplete"/>),
    /// a plain success is handed over by the thread that read it (see <see cref="CompleteClaimed"/>).
    /// </summary>
    public static Exchange ForTask(NetRequest request, CancellationToken cancellationToken, bool priority = false,
        TimeProvider? clock = null) =>
        new(request, new TaskCompletionSource<NetResponse>(), null, cancellationToken, priority, clock);

    /// <summary>An exchange whose outcome is sent to an actor (the Tell/Ask path).</summary>
    public static Exchange ForActor(NetRequest request, IActorRef replyTo, CancellationToken cancellationToken = default,
        TimeProvider? clock = null) =>
        new(request, null, replyTo, cancellationToken, false, clock);

    /// <summary>
    /// Compares exchanges by reference, hashing their start time: <see cref="ReferenceEqualityComparer"/> would
    /// make the runtime create an identity hash in each new exchange's header, a slow path on every request.
    /// </summary>
    public static IEqualityComparer<Exchange> Identity { get; } = new IdentityComparer();

    public NetRequest Request { get; }

    /// <summary>
    /// Telemetry: the request's trace context, captured when it was accepted: its NetActors client span, or the
    /// caller's own activity when nobody samples NetActors' spans, or null (see <see cref="NetActivity.Begin"/>).
    /// </summary>
    public Activity? Span { get; set; }

    /// <summary>The outcome, for the facade's path.</summary>
    public Task<NetResponse> Task => _tcs?.Task ?? throw new InvalidOperationException("Not a task exchange.");

    /// <summary>Jumps the queue: used by token refreshes so they never wait behind requests.</summary>
    public bool Priority { get; }

    /// <summary>
    /// Sent by <see cref="INetClient.SendStreamAsync"/>: a 2xx body is handed to the caller as a stream that holds
    /// the attempt's slot until it ends (see <see cref="StreamedBody"/>). Never shared, never cached.
    /// </summary>
    public bool Streamed { get; set; }

    public ExchangeState State { get; set; } = ExchangeState.New;

    /// <summary>
    /// Its host actor sent it to itself to be admitted again (after a restart, or as a follower whose leader failed) and
    /// has not handled that message yet: a restart in between must not send it a second time (admitted twice, it
    /// would be queued twice or go on the wire twice).
    /// </summary>
    public bool Readmitting { get; set; }

    /// <summary>
    /// The current attempt was cancelled while its body's own stream was being read, not while the connection wrote:
    /// an attempt timeout then is the caller's stalled body, not the origin's slowness (set from the timer's thread).
    /// </summary>
    public bool BodyStalled
    {
        get => Volatile.Read(ref _bodyStalled);
        set => Volatile.Write(ref _bodyStalled, value);
    }

    private bool _bodyStalled;

    /// <summary>
    /// The current attempt's connection failed while its body was being written: the server read the request's
    /// head and closed before taking the body (a refusal such as 413 it could not deliver first, most often), so
    /// the failure is not counted against the origin's circuit (set from the attempt's thread before it reports).
    /// </summary>
    public bool BodyCutOff { get; set; }

    public long StartedAt { get; }

    /// <summary>The host actor that owns it now; cancellation notices go there.</summary>
    public IActorRef? Owner { get; set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    public bool CallerCancelled => _callerToken.IsCancellationRequested;

    public CancellationToken CallerToken => _callerToken;

    // ---- where it goes: its client, target and the message it is sent as ------------------------

    /// <summary>The resolved client; set by the gateway.</summary>
    public ClientSettings Client { get; set; } = null!;

    /// <summary>The redaction rules for messages about this exchange; set by the gateway.</summary>
    public RedactionSettings Redaction { get; set; } = RedactionSettings.Default;

    /// <summary>The absolute target; null until resolved from a relative URL.</summary>
    public Uri? Target { get; set; }

    /// <summary>The origin of the first hop, before any redirect.</summary>
    public string? OriginalOrigin { get; set; }

    /// <summary>The origin key of <see cref="Target"/>.</summary>
    public string OriginKey { get; set; } = string.Empty;

    /// <summary>The method of the next attempt (a 303 turns it into GET).</summary>
    public HttpMethod Method { get; set; }

    /// <summary>The body of the next attempt.</summary>
    public NetContent? Content { get; set; }

    /// <summary>Sent by the facade through the gateway, which reports when it has passed it on.</summary>
    public bool CountedInGateway { get; set; }

    /// <summary>The client's C# hooks (retry classifier, interceptors); set by the gateway.</summary>
    public Resilience.ClientHooks Hooks { get; set; } = Resilience.ClientHooks.None;

    /// <summary>The client's JSON options, for the response's <c>ReadJson</c>; set when the host prepares the exchange.</summary>
    public System.Text.Json.JsonSerializerOptions? JsonOptions { get; set; }

    // ---- its place in the origin's books: the ledger, the queue ---------------------------------

    /// <summary>The list that holds this exchange (its host's queue or a realm's waiting list), while it waits in one.</summary>
    public ExchangeList? QueueList { get; set; }

    /// <summary>The next exchange in <see cref="QueueList"/>.</summary>
    public Exchange? QueueNext { get; set; }

    /// <summary>The previous exchange in <see cref="QueueList"/>.</summary>
    public Exchange? QueuePrevious { get; set; }

    /// <summary>Out of any list (taken out, or its list died with an actor's incarnation).</summary>
    public void ForgetQueue()
    {
        QueueList = null;
        QueueNext = null;
        QueuePrevious = null;
    }

    /// <summary>The admission ledger of the origin that holds this exchange, from admission until it leaves.</summary>
    public AdmissionLedger? Ledger => _ledger;

    /// <summary>Counted by <paramref name="ledger"/> (see <see cref="AdmissionLedger.TryEnter"/>).</summary>
    internal void CountIn(AdmissionLedger ledger)
    {
        _ledger = ledger;
        Volatile.Write(ref _counted, 1);
    }

    /// <summary>
    /// An attempt of this exchange is on the wire, from the moment it is started until its response is read or it
    /// failed (any thread reads it). An outcome claimed meanwhile (the caller cancelled; a shared call's leader
    /// whose own caller left while followers wait) keeps its place in the bound until the host actor is done
    /// with it: the wire is still in use.
    /// </summary>
    private int _onWire;

    internal void WireStarted() => Volatile.Write(ref _onWire, 1);

    internal void WireDone() => Volatile.Write(ref _onWire, 0);

    /// <summary>Frees the exchange's place in its ledger's bound, once, from whichever thread gets here first.</summary>
    private void Uncount()
    {
        if (Interlocked.Exchange(ref _counted, 0) == 1)
        {
            _ledger?.Uncount(Priority);
        }
    }

    /// <summary>Leaves its ledger for good (its host is done with it, or it moves to another origin).</summary>
    internal void LeaveLedger()
    {
        Uncount();
        _ledger = null;
    }

    // ---- the hand-off: next in line, its message built, for the attempt that frees a slot ----

    private const int NotReady = 0, IsReady = 1, ReadyTaken = 2;
    private int _ready;
    private HttpRequestMessage? _readyMessage;

    /// <summary>
    /// Puts the exchange next in line (the host actor, with its message built and its attempt's source, not armed):
    /// from here either a completing attempt takes it (<see cref="TryTakeReady"/>) or the actor takes it back
    /// (<see cref="TryReclaimReady"/>), never both.
    /// </summary>
    internal void MakeReady(CancellationTokenSource source, HttpRequestMessage message)
    {
        _attempt = source;
        AttemptCancelled = false;
        _readyMessage = message;
        Volatile.Write(ref _ready, IsReady);
    }

    /// <summary>A completing attempt claims the ready exchange to start it in its slot; any thread, once.</summary>
    internal bool TryTakeReady() => Interlocked.CompareExchange(ref _ready, ReadyTaken, IsReady) == IsReady;

    /// <summary>The host actor takes a ready exchange back (it is queued again, or answered); false once it was taken.</summary>
    internal bool TryReclaimReady() => Interlocked.CompareExchange(ref _ready, NotReady, IsReady) == IsReady;

    /// <summary>
    /// Taken by a completing attempt and started (or about to be) on the wire, and the host actor has not yet taken
    /// it over (<see cref="TakenOver"/>): it is on the wire as far as its slot and its resources are concerned.
    /// </summary>
    internal bool IsTaken => Volatile.Read(ref _ready) == ReadyTaken;

    /// <summary>Made ready and neither taken nor reclaimed yet.</summary>
    internal bool IsStillReady => Volatile.Read(ref _ready) == IsReady;

    /// <summary>The host actor has the hand-off's report (or took it itself): the exchange is in its in-flight set from here.</summary>
    internal void TakenOver() => Interlocked.CompareExchange(ref _ready, NotReady, ReadyTaken);

    /// <summary>The message built for the ready exchange, handed over once (to the attempt, or back to be disposed).</summary>
    internal HttpRequestMessage? TakeReadyMessage()
    {
        var message = _readyMessage;
        _readyMessage = null;
        return message;
    }

    /// <summary>
    /// Arms the attempt of a taken exchange on the thread that starts it: the attempt's deadline as
    /// <see cref="ArmAttempt"/> would, on the source it was made ready with, its count and its start time (a ready
    /// exchange that never went on the wire made no attempt).
    /// </summary>
    internal void ArmTaken()
    {
        ArmAttempt(_attempt!, Client.ResponseTimeout);
        Attempts++;
        AttemptStartedAt = _clock.GetTimestamp();
    }

    // ---- time: its total deadline, its attempts and their deadlines, the caller's cancellation ----

    public int Attempts { get; set; }

    /// <summary>When the current attempt went on the wire, as a timestamp of the host's clock (its latency sample).</summary>
    public long AttemptStartedAt { get; set; }

    /// <summary>How many attempts of its origin were on the wire when the current one started, itself included.</summary>
    public int InFlightAtStart { get; set; }

    /// <summary>The token the current attempt runs under: its deadline (attempt or total) and, through
    /// <see cref="Abort"/>, the caller's cancellation.</summary>
    public CancellationToken Token => _attempt!.Token;

    public TimeSpan TotalTimeout { get; private set; }

    /// <summary>When the total timeout runs out, as a timestamp of the exchange's clock.</summary>
    public long TotalDeadline => StartedAt + (long)(TotalTimeout.TotalSeconds * _clock.TimestampFrequency);

    /// <summary>The clock the exchange's times are measured with (the system's, outside tests).</summary>
    public TimeProvider Clock => _clock;

    public TimeSpan Elapsed => _clock.GetElapsedTime(StartedAt);

    public TimeSpan Remaining => TotalTimeout - Elapsed;

    /// <summary>True when the last attempt's deadline was the total one (not a shorter attempt deadline).</summary>
    public bool DeadlineIsTotal => _deadlineIsTotal;

    /// <summary>True when the last attempt's source was cancelled (its deadline, or <see cref="Abort"/>).</summary>
    public bool AttemptCancelled { get; private set; }

    /// <summary>The exchange's slot in its host's <see cref="DeadlineWheel"/> while it waits there, else -1.</summary>
    public int WheelSlot { get; set; } = -1;

    /// <summary>The next exchange in the same wheel slot.</summary>
    public Exchange? WheelNext { get; set; }

    /// <summary>The previous exchange in the same wheel slot.</summary>
    public Exchange? WheelPrevious { get; set; }

    /// <summary>
    /// Starts the total timeout the first time a host accepts the exchange. Cancellation by the caller fails
    /// the exchange at once and is reported to <see cref="Owner"/>, which aborts the wire call unless others
    /// share it. Deadlines are kept by the owner: a <see cref="DeadlineWheel"/> while the exchange waits, the
    /// attempt's own source (<see cref="ArmAttempt"/>) while it is on the wire.
    /// </summary>
    public void Begin(TimeSpan totalTimeout)
    {
        if (_begun)
        {
            return;
        }

        _begun = true;
        TotalTimeout = totalTimeout;
        if (_callerToken.CanBeCanceled)
        {
            _callerRegistration = _callerToken.UnsafeRegister(static state => ((Exchange)state!).OnCallerCancelled(), this);
        }
    }

    /// <summary>True once <see cref="Abort"/> was called.</summary>
    public bool Aborted { get; private set; }

    /// <summary>Aborts the wire call of this exchange (its caller went away and nobody shares it).</summary>
    public void Abort()
    {
        Aborted = true;
        try
        {
            _attempt?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already released.
        }
    }

    /// <summary>
    /// Arms the deadline of one attempt on <paramref name="source"/> (a fresh or reset source of the owner's): the
    /// shorter of the response timeout and what is left of the total one. Its cancellation aborts the call.
    /// </summary>
    public void ArmAttempt(CancellationTokenSource source, TimeSpan attemptTimeout)
    {
        _attempt = source;
        AttemptCancelled = false;
        var remaining = Remaining;
        if (remaining > NetRequest.MaxTimeout)
        {
            remaining = NetRequest.MaxTimeout; // what a CancellationTokenSource can hold; the request was checked
        }

        if (attemptTimeout < remaining)
        {
            _deadlineIsTotal = false;
            source.CancelAfter(attemptTimeout);
        }
        else
        {
            _deadlineIsTotal = true;
            source.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
    }

    /// <summary>
    /// The attempt is over: notes whether its source was cancelled and gives the source back (the owner may
    /// reuse it once reset), or null when there was none.
    /// </summary>
    public CancellationTokenSource? EndAttempt()
    {
        var source = _attempt;
        _attempt = null;
        AttemptCancelled = source?.IsCancellationRequested == true;
        return source;
    }

    private void OnCallerCancelled()
    {
        TryFail(new OperationCanceledException("The caller cancelled the request.", _callerToken));
        Owner?.Tell(new ExchangeDeadline(this), ActorRefs.NoSender);
    }

    /// <summary>
    /// The headers of a streamed response arrived: from here the attempt's deadline is the total one (reading the
    /// body is bounded by the request's total timeout, not by the response timeout). Called on the attempt's thread
    /// before the host hears of the stream, so the host reads <see cref="DeadlineIsTotal"/> after it was set.
    /// </summary>
    public void ExtendAttemptToTotal()
    {
        var remaining = Remaining;
        if (remaining > NetRequest.MaxTimeout)
        {
            remaining = NetRequest.MaxTimeout;
        }

        try
        {
            if (_attempt is null || _attempt.IsCancellationRequested)
            {
                return; // its response timeout ran out first: that is what the stream reports
            }

            _deadlineIsTotal = true;
            _attempt.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
        catch (ObjectDisposedException)
        {
            // Released already (the host stopped): the stream is aborted through its registration.
        }
    }

    // ---- auth: the token the current attempt carries --------------------------------------------

    /// <summary>The Authorization header value (the realm's bearer token) the current attempt carries, or null.</summary>
    public string? Authorization { get; set; }

    /// <summary>The version of the token in <see cref="Authorization"/>.</summary>
    public long TokenVersion { get; set; }

    /// <summary>True once the exchange was retried after a 401: a second 401 is final (no auth loop).</summary>
    public bool AuthRetried { get; set; }

    /// <summary>auth: true once the exchange was retried because the server asked for a DPoP nonce (once only).</summary>
    public bool DPoPNonceRetried { get; set; }

    // ---- retries and redirects ------------------------------------------------------------------

    /// <summary>The idempotency key sent on every attempt, or null.</summary>
    public string? IdempotencyKey
    {
        get => _rare?.IdempotencyKey;
        set => Rare(value is not null)?.IdempotencyKey = value;
    }

    // As UTC ticks, 0 for none: a nullable DateTimeOffset would take 24 bytes of every exchange.
    private long _retryDueTicks;

    /// <summary>When its retry delay ends, while it waits for one (a restarted host re-arms what is left of it).</summary>
    public DateTimeOffset? RetryDueAt
    {
        get => _retryDueTicks == 0 ? null : new DateTimeOffset(_retryDueTicks, TimeSpan.Zero);
        set => _retryDueTicks = value?.UtcTicks ?? 0;
    }

    public int Redirects { get; set; }

    /// <summary>The addresses a request that is unsafe to repeat was sent to before its current one (redirects), or null.</summary>
    public List<Uri>? Visited
    {
        get => _rare?.Visited;
        set => Rare(value is not null)?.Visited = value;
    }

    // ---- shared calls (deduplication) -----------------------------------------------------------

    /// <summary>The deduplication key while this exchange leads a shared wire request.</summary>
    public SharedKey? DedupKey { get; set; }

    /// <summary>Exchanges that share this one's wire request.</summary>
    public List<Exchange>? Followers
    {
        get => _rare?.Followers;
        set => Rare(value is not null)?.Followers = value;
    }

    /// <summary>The exchange whose wire request this one shares.</summary>
    public Exchange? Leader
    {
        get => _rare?.Leader;
        set => Rare(value is not null)?.Leader = value;
    }

    /// <summary>True while some follower still waits for this exchange's result.</summary>
    public bool HasLiveFollowers => Followers is { } f && f.Exists(x => !x.IsCompleted);

    // ---- the HTTP cache -------------------------------------------------------------------------

    /// <summary>The client's HTTP cache, when this exchange may be stored in it; else null.</summary>
    public Caching.ResponseCache? Cache
    {
        get => _rare?.Cache;
        set => Rare(value is not null)?.Cache = value;
    }

    /// <summary>The cache's epoch when this exchange was admitted: after a clear, its response is not stored.</summary>
    public long CacheEpoch
    {
        get => _rare?.CacheEpoch ?? 0;
        set => Rare(value != 0)?.CacheEpoch = value;
    }

    /// <summary>A stored response this exchange revalidates, or may serve stale when the origin is down.</summary>
    public Caching.CacheEntry? Cached
    {
        get => _rare?.Cached;
        set => Rare(value is not null)?.Cached = value;
    }

    // ---- what few exchanges need, kept apart so that a plain request does not carry it ------------

    // Made when one of its values is first set to something other than its default.
    private RareState? _rare;

    /// <summary>Where to write a rare value: made when <paramref name="notDefault"/>, null when the value is a default
    /// that the exchange already has (clearing what was never set allocates nothing).</summary>
    private RareState? Rare(bool notDefault) => _rare ?? (notDefault ? _rare = new RareState() : null);

    /// <summary>Idempotency keys, shared calls and the cache: set for a POST with a key, a GET that others follow,
    /// a client with a cache, and nothing else.</summary>
    private sealed class RareState
    {
        public string? IdempotencyKey;
        public List<Exchange>? Followers;
        public Exchange? Leader;
        public Caching.ResponseCache? Cache;
        public long CacheEpoch;
        public Caching.CacheEntry? Cached;
        public List<Uri>? Visited;
    }

    // ---- the one outcome: claimed once, handed over once, and what it is made of ----------------

    /// <summary>What error messages say about this request; the URL is redacted.</summary>
    public NetRequestInfo Info() =>
        new(Request.Client, Method?.Method ?? "(none)", Target is null ? Redaction.Url(Request.Url ?? string.Empty) : Redaction.Url(Target), Attempts);

    /// <summary>
    /// Delivers a response unless an outcome was delivered already. A waiting task is completed through the
    /// thread pool, so the caller's continuation never runs on the actor that decided the outcome.
    /// </summary>
    public bool TryComplete(NetResponse response) => TryClaim() && Ended((int)response.StatusCode, null) && Hand(response);

    /// <summary>Delivers a failure (cancellation for an <see cref="OperationCanceledException"/>), like <see cref="TryComplete"/>.</summary>
    public bool TryFail(Exception error) => TryClaim() && Ended(null, error) && Hand(error);

    /// <summary>Telemetry: the span ends with the one outcome, before the caller can see it.</summary>
    private bool Ended(int? status, Exception? error)
    {
        if (Span is not null)
        {
            NetActivity.End(this, status, error);
        }

        return true;
    }

    /// <summary>
    /// Claims the one outcome: true for the first caller only, who must then deliver it. From here on the request
    /// no longer counts against its origin's bound (before the caller can see the outcome and send again), unless
    /// an attempt of it is still on the wire.
    /// </summary>
    public bool TryClaim()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        if (Volatile.Read(ref _onWire) == 0)
        {
            Uncount(); // else once the host actor lets it go (LeaveLedger)
        }

        return true;
    }

    /// <summary>
    /// Claims the one outcome for a streamed body, like <see cref="TryClaim"/>, but the request keeps counting against
    /// its origin's bound: it still holds its slot (its body is on the wire) until the stream ends and the host
    /// releases it (<see cref="LeaveLedger"/>).
    /// </summary>
    public bool TryClaimStream() => Interlocked.Exchange(ref _completed, 1) == 0;

    /// <summary>
    /// Delivers a claimed response on this thread, as a bare <see cref="HttpClient"/> does: the caller's
    /// continuation may run here, when it is a pool thread; from any other thread (the socket engine's, with inline
    /// completions) it is handed to the pool. Only for a thread that is not an actor's (the attempt that read the response).
    /// </summary>
    public void CompleteClaimed(NetResponse response)
    {
        Ended((int)response.StatusCode, null); // telemetry: the plain-2xx path ends the span on the attempt's thread
        if (_tcs is not null && !Thread.CurrentThread.IsThreadPoolThread)
        {
            // Not a pool thread: the socket engine's own (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 runs socket
            // continuations on it). The attempt's short bookkeeping and the next request's start may run there; the
            // caller's code must not, or whatever it does next would hold up every socket's I/O.
            _outcome = response;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else if (_tcs is not null)
        {
            _tcs.TrySetResult(response);
        }
        else
        {
            _replyTo!.Tell(response, ActorRefs.NoSender);
        }
    }

    private bool Hand(object outcome)
    {
        if (_tcs is null)
        {
            _replyTo!.Tell(outcome is Exception error ? new Status.Failure(error) : outcome, ActorRefs.NoSender);
            return true;
        }

        _outcome = outcome;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        return true;
    }

    /// <summary>Completes the task with the outcome handed over (on a pool thread).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        var outcome = _outcome;
        _outcome = null;
        switch (outcome)
        {
            case NetResponse response:
                _tcs!.TrySetResult(response);
                break;
            case OperationCanceledException cancelled:
                _tcs!.TrySetCanceled(cancelled.CancellationToken);
                break;
            case Exception error:
                _tcs!.TrySetException(error);
                break;
        }
    }

    /// <summary>
    /// Frees what the exchange holds (the caller's cancellation registration, an attempt source that was not
    /// given back). Called by its owner once nothing of it is in flight, after taking it out of its deadlines.
    /// </summary>
    public void Release()
    {
        _callerRegistration.Dispose();
        _attempt?.Dispose();
        _attempt = null;
    }

    private sealed class IdentityComparer : IEqualityComparer<Exchange>
    {
        public bool Equals(Exchange? x, Exchange? y) => ReferenceEquals(x, y);

        public int GetHashCode(Exchange ex) => (int)ex.StartedAt ^ (int)(ex.StartedAt >> 32);
    }

    /// <summary>The response for this exchange's caller, from the attempt's response and body.</summary>
    public NetResponse ResponseOf(HttpResponseMessage response, ReadOnlyMemory<byte> body) =>
        new(Request, Target!, response.StatusCode, response.Headers, response.Content.Headers, body, Attempts, Elapsed,
            Redaction) { JsonOptions = JsonOptions, FirstOrigin = OriginalOrigin ?? OriginKey };
}

/// <summary>What makes two requests identical for in-flight deduplication.</summary>
internal readonly record struct SharedKey(string Client, bool Anonymous, bool AnyStatus, HttpMethod Method, string Url, string? Headers,
    long Session = 0);

/// <summary>
/// Look at the exchange's deadline: its caller cancelled, or its interceptors finished after its outcome was
/// decided (so it may be released).
/// </summary>
internal sealed record ExchangeDeadline(Exchange Exchange) : Akka.Event.IDeadLetterSuppression;
