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

    /// <summary>Its outcome has been delivered.</summary>
    Done,
}

/// <summary>
/// One logical request from acceptance to outcome: the request, its resolved client, its current target,
/// its attempts, its deadline and the one place its outcome goes. It is owned by exactly one actor at a time
/// (the gateway, then a HostActor) and only that actor changes it; the outcome is delivered exactly once.
/// </summary>
internal sealed class Exchange
{
    private readonly TaskCompletionSource<NetResponse>? _tcs;
    private readonly IActorRef? _replyTo;
    private readonly CancellationToken _callerToken;
    private int _completed;
    private CancellationTokenSource? _cts;
    private CancellationTokenRegistration _registration;
    private CancellationTokenRegistration _callerRegistration;
    private bool _deadlineIsTotal;

    private Exchange(NetRequest request, TaskCompletionSource<NetResponse>? tcs, IActorRef? replyTo,
        CancellationToken callerToken, bool priority = false)
    {
        Priority = priority;
        Request = request;
        _tcs = tcs;
        _replyTo = replyTo;
        _callerToken = callerToken;
        Method = request.Method;
        Content = request.Content;
        StartedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>An exchange whose outcome completes a task (the facade's path).</summary>
    public static Exchange ForTask(NetRequest request, CancellationToken cancellationToken, bool priority = false) =>
        new(request, new TaskCompletionSource<NetResponse>(TaskCreationOptions.RunContinuationsAsynchronously),
            null, cancellationToken, priority);

    /// <summary>An exchange whose outcome is sent to an actor (the Tell/Ask path).</summary>
    public static Exchange ForActor(NetRequest request, IActorRef replyTo) =>
        new(request, null, replyTo, CancellationToken.None);

    public NetRequest Request { get; }

    /// <summary>The outcome, for the facade's path.</summary>
    public Task<NetResponse> Task => _tcs?.Task ?? throw new InvalidOperationException("Not a task exchange.");

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

    /// <summary>Jumps the queue: used by token refreshes so they never wait behind requests.</summary>
    public bool Priority { get; }

    /// <summary>The Authorization header value (the realm's bearer token) the current attempt carries, or null.</summary>
    public string? Authorization { get; set; }

    /// <summary>The version of the token in <see cref="Authorization"/>.</summary>
    public long TokenVersion { get; set; }

    /// <summary>True once the exchange was retried after a 401: a second 401 is final (no auth loop).</summary>
    public bool AuthRetried { get; set; }

    /// <summary>The client's C# hooks (retry classifier, interceptors); set by the gateway.</summary>
    public Resilience.ClientHooks Hooks { get; set; } = Resilience.ClientHooks.None;

    /// <summary>The idempotency key sent on every attempt, or null.</summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>The deduplication key while this exchange leads a shared wire request.</summary>
    public SharedKey? DedupKey { get; set; }

    /// <summary>Exchanges that share this one's wire request.</summary>
    public List<Exchange>? Followers { get; set; }

    /// <summary>The exchange whose wire request this one shares.</summary>
    public Exchange? Leader { get; set; }

    /// <summary>True while some follower still waits for this exchange's result.</summary>
    public bool HasLiveFollowers => Followers is { } f && f.Exists(x => !x.IsCompleted);

    public ExchangeState State { get; set; } = ExchangeState.New;

    public int Attempts { get; set; }

    public int Redirects { get; set; }

    public long StartedAt { get; }

    /// <summary>The node of this exchange in its host's queue, while queued.</summary>
    public LinkedListNode<Exchange>? QueueNode { get; set; }

    /// <summary>The host actor that owns it now; cancellation notices go there.</summary>
    public IActorRef? Owner { get; set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    public bool CallerCancelled => _callerToken.IsCancellationRequested;

    public CancellationToken CallerToken => _callerToken;

    /// <summary>The token the current attempt runs under: caller cancellation, total or attempt deadline.</summary>
    public CancellationToken Token => _cts!.Token;

    public TimeSpan TotalTimeout { get; private set; }

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(StartedAt);

    public TimeSpan Remaining => TotalTimeout - Elapsed;

    /// <summary>True when the deadline now armed is the total one (not a shorter attempt deadline).</summary>
    public bool DeadlineIsTotal => _deadlineIsTotal;

    /// <summary>
    /// Starts the deadline clock the first time a host accepts the exchange. Cancellation by the caller fails
    /// the exchange at once and is reported to <see cref="Owner"/>, which aborts the wire call unless others
    /// share it; a deadline is reported to <see cref="Owner"/>, which decides what it means.
    /// </summary>
    public void Begin(TimeSpan totalTimeout)
    {
        if (_cts is not null)
        {
            return;
        }

        TotalTimeout = totalTimeout;
        StartDeadline();
        if (_callerToken.CanBeCanceled)
        {
            _callerRegistration = _callerToken.UnsafeRegister(static state => ((Exchange)state!).OnCallerCancelled(), this);
        }
    }

    private void StartDeadline()
    {
        _cts = new CancellationTokenSource();
        ArmTotal();
        _registration = _cts.Token.UnsafeRegister(static state => ((Exchange)state!).OnDeadline(), this);
    }

    /// <summary>True once <see cref="Abort"/> was called.</summary>
    public bool Aborted { get; private set; }

    /// <summary>Aborts the wire call of this exchange (its caller went away and nobody shares it).</summary>
    public void Abort()
    {
        Aborted = true;
        try
        {
            _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already released.
        }
    }

    /// <summary>Arms the total deadline only (while queued or waiting).</summary>
    public void ArmTotal()
    {
        if (_cts!.IsCancellationRequested)
        {
            // An attempt deadline fired just as its attempt ended: without a fresh source the exchange would
            // wait (for a token, a retry, a slot) with no live deadline. A fired total deadline stays fired.
            if (!_deadlineIsTotal && !Aborted)
            {
                RenewAfterAttemptTimeout();
            }

            return;
        }

        var remaining = Remaining;
        _deadlineIsTotal = true;
        _cts.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
    }

    /// <summary>Arms the deadline of one attempt: the shorter of the response timeout and what is left.</summary>
    public void ArmAttempt(TimeSpan attemptTimeout)
    {
        var remaining = Remaining;
        if (attemptTimeout < remaining)
        {
            _deadlineIsTotal = false;
            _cts!.CancelAfter(attemptTimeout);
        }
        else
        {
            _deadlineIsTotal = true;
            _cts!.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
    }

    /// <summary>
    /// After an attempt deadline fired, a new source for the rest of the total time (a cancelled source
    /// cannot be reset).
    /// </summary>
    public void RenewAfterAttemptTimeout()
    {
        _registration.Dispose();
        _cts!.Dispose();
        StartDeadline();
    }

    private void OnCallerCancelled()
    {
        TryFail(new OperationCanceledException("The caller cancelled the request.", _callerToken));
        Owner?.Tell(new ExchangeDeadline(this), ActorRefs.NoSender);
    }

    private void OnDeadline() => Owner?.Tell(new ExchangeDeadline(this), ActorRefs.NoSender);

    /// <summary>What error messages say about this request; the URL is redacted.</summary>
    public NetRequestInfo Info() =>
        new(Request.Client, Method?.Method ?? "(none)", Target is null ? Redaction.Url(Request.Url) : Redaction.Url(Target), Attempts);

    public bool TryComplete(NetResponse response)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        if (_tcs is not null)
        {
            _tcs.TrySetResult(response);
        }
        else
        {
            _replyTo!.Tell(response, ActorRefs.NoSender);
        }

        return true;
    }

    public bool TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        if (_tcs is not null)
        {
            if (error is OperationCanceledException oce)
            {
                _tcs.TrySetCanceled(oce.CancellationToken);
            }
            else
            {
                _tcs.TrySetException(error);
            }
        }
        else
        {
            _replyTo!.Tell(new Status.Failure(error), ActorRefs.NoSender);
        }

        return true;
    }

    /// <summary>Frees the deadline timer; called by the owner once nothing of the exchange is in flight.</summary>
    public void Release()
    {
        _registration.Dispose();
        _callerRegistration.Dispose();
        _cts?.Dispose();
    }
}

/// <summary>What makes two requests identical for in-flight deduplication.</summary>
internal readonly record struct SharedKey(string Client, bool Anonymous, bool AnyStatus, HttpMethod Method, string Url, string? Headers);

/// <summary>The exchange's cancellation token fired: the caller cancelled, or a deadline passed.</summary>
internal sealed record ExchangeDeadline(Exchange Exchange) : Akka.Event.IDeadLetterSuppression;
