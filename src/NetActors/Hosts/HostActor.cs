using System.Net;
using Akka.Actor;
using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>
/// Owns one origin: its slots, the <see cref="AdmissionLedger"/> of every request it holds, its timers, the wire and
/// supervision. At most <c>max-connections</c> requests are on the wire at once (with adaptive concurrency, at most
/// the origin's current limit, which never exceeds it: see <see cref="AdmissionLedger.SlotLimit"/>); the others wait (queued, for a
/// token, for a retry delay or a <c>Retry-After</c> pause, or following a shared call), at most
/// <c>queue-capacity</c> of them in all; beyond that a request is answered <see cref="OverloadedException"/> at
/// the edge, before it reaches this actor. Token refreshes take the next free slot ahead of the queue. The
/// decisions that need no actor state are plain classes called synchronously, each tested on its own:
/// <see cref="RequestMessageBuilder"/> (what goes on the wire), <see cref="FailureClassifier"/> (what a failure
/// means and whether it counts against the origin), <see cref="RetryPolicy"/>, <see cref="DedupTable"/>,
/// <see cref="CacheRules"/>, <see cref="CircuitBreaker"/>, <see cref="RateGate"/>, <see cref="AdaptiveLimit"/>,
/// <see cref="AdaptiveRate"/>. Attempts run off the actor
/// (<see cref="AttemptRunner"/>) and report back as messages; interceptors never run on this actor, and a JSON body
/// sent through the facade once the runtime has started is serialized on its caller's thread (one told to the
/// gateway, or sent before the start, is serialized here). Two pieces of user code do run here and must
/// return at once: the client's retry classifier (a synchronous predicate; a slow one is logged) and a custom
/// <see cref="NetContent"/>'s <c>CreateHttpContent</c>. Under a backlog
/// the actor builds the head of its queue ahead and a completing attempt starts it in the slot it frees, reporting
/// the hand-off in its own message (see <see cref="PrepareReady"/>).
/// </summary>
internal sealed partial class HostActor : UntypedActor, IWithTimers
{
    private static readonly TimeSpan DeadlineTolerance = TimeSpan.FromMilliseconds(20);
    private const string PumpTimer = "pump";
    private const string DeadlineTimer = "deadlines";
    private const string IdleTimer = "idle";

    private readonly HostContext _context;
    private readonly string _origin;
    private readonly HttpMessageInvoker _http;
    private readonly AdmissionLedger _ledger;
    private readonly ExchangeList _queue = new();
    private readonly ExchangeList _priority = new();
    private readonly HashSet<Exchange> _retrying = new(Exchange.Identity);
    private readonly Dictionary<string, RealmCache> _realms = new(StringComparer.Ordinal);
    private readonly DedupTable _shared = new();
    private readonly RateGate _rate;
    private readonly TimeSpan _maxRetryAfter;
    private readonly TimeSpan _idleTimeout;
    private readonly bool _evictable;
    private DateTimeOffset _idleSince;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _drainReply;
    private Exchange? _probe;
    private readonly Telemetry.OriginGauge _gauge;
    private readonly Stack<CancellationTokenSource> _sources = new();
    private readonly List<Exchange> _expired = [];
    private readonly List<Exchange> _reclaimed = [];
    private readonly List<Exchange> _readyOrder = [];
    private int _reclaimedAlone;
    private long _deadlinesDueAt = long.MaxValue;

    private HostActor(HostContext context, string origin, ClientSettings connection, AdmissionLedger ledger, bool evictable)
    {
        _context = context;
        _origin = origin;
        _ledger = ledger;
        _http = context.CreateInvoker(origin, connection);
        _rate = new RateGate(connection.RateLimit, context.FleetMembers, ledger.Rate);
        _maxRetryAfter = connection.MaxRetryAfter;
        _idleTimeout = connection.IdleOriginTimeout;
        _evictable = evictable;
        _gauge = context.Metrics.Origin(origin);
        ShowAdaptive();
    }

    /// <summary>
    /// One switch over the messages, not a <see cref="ReceiveActor"/>'s table: that table is built per actor (a
    /// delegate and a matcher per message type, about 1.5 KB), and there is a host actor per origin.
    /// </summary>
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Exchange ex:
                Admit(ex);
                break;
            case SlotHandedOn handed:
                OnAttemptCompleted(handed.Completed, handed.Next, handed.Started); // a plain 2xx: it holds nothing
                break;
            case AttemptCompleted done:
                try
                {
                    OnAttemptCompleted(done, null, started: false);
                }
                finally
                {
                    if (AttemptRunner.HoldsHandOffs(done))
                    {
                        _ledger.HandOffsSettled(); // decided (or failed deciding): completions may hand slots on again
                    }
                }

                break;
            case StreamStarted started:
                OnStreamStarted(started);
                break;
            case StreamEnded ended:
                OnStreamEnded(ended.Exchange);
                break;
            case ExchangeDeadline deadline:
                OnDeadline(deadline.Exchange);
                break;
            case DeadlinesDue:
                OnDeadlinesDue();
                break;
            case RetryDue due:
                OnRetryDue(due.Exchange);
                break;
            case Pump:
                PumpQueue();
                break;
            case Auth.TokenGranted granted:
                OnTokenGranted(granted);
                break;
            case Auth.TokenDenied denied:
                OnTokenDenied(denied);
                break;
            case Auth.TokenUnavailable unavailable:
                OnTokenUnavailable(unavailable);
                break;
            case CircuitProbeDue:
                OnCircuitProbeDue();
                break;
            case Drain drain:
                OnDrain(drain);
                break;
            case IdleCheck:
                OnIdleCheck();
                break;
            case InjectFault fault:
                if (fault.Again)
                {
                    Self.Tell(new InjectFault(fault.Reason));
                }

                throw new InvalidOperationException(fault.Reason);
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Props for the host of <paramref name="origin"/>. The ledger outlives restarts of the actor. An
    /// <paramref name="evictable"/> origin (one no client declares) asks to be removed once idle.
    /// </summary>
    public static Props Props(HostContext context, string origin, ClientSettings connection, AdmissionLedger ledger,
        bool evictable = false) =>
        ActorProps.Of(() => new HostActor(context, origin, connection, ledger, evictable));

    public ITimerScheduler Timers { get; set; } = null!;

    private HashSet<Exchange> InFlight => _ledger.InFlight;

    private DeadlineWheel Deadlines => _ledger.Deadlines;

    private DateTimeOffset Now => _context.Time.GetUtcNow();

    /// <summary>The origin's circuit, in the ledger: it outlives a restart of this actor.</summary>
    private CircuitBreaker Breaker => _ledger.Breaker;

    // ---- admission ---------------------------------------------------------------------------------------

    private void Admit(Exchange ex)
    {
        ex.Readmitting = false;
        if (ex.IsCompleted)
        {
            HandOffFollowers(ex);
            Release(ex);
            return;
        }

        if (!_ledger.TryEnter(ex))
        {
            // Sent without passing the edge (the facade and the gateway count before they send): refused here.
            Finish(ex, new OverloadedException(ex.Info(), _origin, _ledger.QueueCapacity));
            return;
        }

        _ledger.Hold(ex);
        ex.Owner = Self;
        if (ex.State == ExchangeState.New)
        {
            // Its clock starts before anything can answer it: a refusal delivered through slow hooks is still bounded
            // by the request's own total timeout, not by a timeout of zero.
            ex.Begin(ex.Request.Timeout ?? ex.Client.TotalTimeout);
        }

        if (_drainReply is not null)
        {
            Finish(ex, new NetShutdownException(ex.Info()));
            return;
        }

        if (ex.State == ExchangeState.New)
        {
            // Once per logical request: a redirected exchange keeps its first origin and its idempotency key.
            var problem = ex.OriginalOrigin is null ? RequestMessageBuilder.Prepare(ex, _context.Json) : null;
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

        if (!ex.Priority && Breaker.Enabled && Breaker.State != CircuitState.Closed)
        {
            // When half-open, Allow() lets this exchange through as the one probe.
            var allowed = Breaker.Allow(Now, out var retryIn, out var changed);
            Publish(changed);
            if (!allowed)
            {
                FailOrServeStale(ex, new CircuitOpenException(ex.Info(), _origin, retryIn));
                return;
            }

            if (Breaker.State == CircuitState.HalfOpen)
            {
                _probe = ex; // its outcome decides the circuit; if it leaves without one, the slot is given back
            }
        }

        if (ex.RetryDueAt is { } due && due > Now)
        {
            // Admitted again after a restart while it waited for its retry: it waits out what is left of the delay.
            WaitForRetry(ex, due - Now);
            return;
        }

        if (_shared.TryFollow(ex, ex.Client.AuthRealm is { } realm ? _context.Caches.SessionOf(realm) : 0))
        {
            ArmTotal(ex); // it waits for the call it shares
            return;
        }

        Enqueue(ex, front: false, armDeadline: false);
        PumpQueue();
        if (ex.State is ExchangeState.Queued or ExchangeState.Ready)
        {
            ArmTotal(ex); // it waits after all (most requests go straight on the wire and never need the wheel)
        }
    }

    private void Enqueue(Exchange ex, bool front, bool armDeadline = true)
    {
        if (!ex.Priority && PauseLeft() is var pause && pause > TimeSpan.Zero && ex.Remaining - DeadlineTolerance <= pause)
        {
            FailPaused(ex, pause);
            return;
        }

        if (ex.Priority)
        {
            Unready(); // a refresh takes the next slot the actor sees free: completions stop handing theirs on
            ex.State = ExchangeState.Queued;
            if (armDeadline)
            {
                ArmTotal(ex);
            }

            Add(_priority, ex, front);
            return;
        }

        ex.State = ExchangeState.Queued;
        if (armDeadline)
        {
            ArmTotal(ex);
        }

        Add(_queue, ex, front);
    }

    private static void Add(ExchangeList list, Exchange ex, bool front)
    {
        if (front)
        {
            list.AddFirst(ex);
        }
        else
        {
            list.AddLast(ex);
        }
    }

    // ---- Retry-After pauses ----------------------------------------------------------------------------------

    /// <summary>How long the origin is still paused by a <c>Retry-After</c>; zero when it is not.</summary>
    private TimeSpan PauseLeft()
    {
        if (_ledger.PausedUntil == default)
        {
            return TimeSpan.Zero;
        }

        var left = _ledger.PausedUntil - Now;
        if (left <= TimeSpan.Zero)
        {
            _ledger.PausedUntil = default;
            return TimeSpan.Zero;
        }

        return left;
    }

    /// <summary>
    /// Pauses the origin for <paramref name="pause"/> (already capped at <c>max-retry-after</c>, so nothing a server
    /// says can disable an origin for long). Queued requests whose budget ends before the pause does are answered
    /// now, with the time to retry, instead of waiting out their timeout.
    /// </summary>
    private void PauseOrigin(TimeSpan pause)
    {
        var until = Now + pause;
        if (until <= _ledger.PausedUntil)
        {
            return;
        }

        _ledger.PausedUntil = until;
        Unready(); // nothing starts during the pause, not even in a slot a completion hands on
        for (var ex = _queue.First; ex is not null;)
        {
            var next = ex.QueueNext;
            if (ex.Remaining - DeadlineTolerance <= pause && !ex.IsCompleted)
            {
                FailPaused(ex, pause);
            }

            ex = next;
        }
    }

    private void FailPaused(Exchange ex, TimeSpan pause) =>
        FailOrServeStale(ex, new RateLimitedException(ex.Info(), null, pause));

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
            _gauge.Set(_ledger.Waiting, InFlight.Count);
        }
    }

    private void PumpQueueCore()
    {
        while (_ledger.HasFreeSlot)
        {
            var next = Peek(_priority);
            if (next is null && _ledger.ReadyCount > 0 && _ledger.TakeReady() is { } ready)
            {
                if (ready.IsCompleted && !ready.HasLiveFollowers)
                {
                    ready.TakenOver();
                    Unprepare(ready);
                    Drop(ready); // its caller left while it was next in line
                    continue;
                }

                StartReady(ready); // the head of the line, built already
                continue;
            }

            next ??= Peek(_queue);
            if (next is null)
            {
                return;
            }

            var wait = next.Priority ? TimeSpan.Zero : PauseLeft();
            if (!next.Priority && (wait > TimeSpan.Zero || !_rate.TryAcquire(Now, out wait)))
            {
                // Over the rate (or paused by a Retry-After): the queue waits, nothing is rejected.
                if (!Timers.IsTimerActive(PumpTimer))
                {
                    Timers.StartSingleTimer(PumpTimer, Pump.Instance, wait);
                }

                return;
            }

            next.QueueList!.Remove(next);
            if (!next.Priority && Breaker.State == CircuitState.Open)
            {
                // Opened while this one waited: it fails fast too rather than adding to the failing upstream.
                FailOrServeStale(next, new CircuitOpenException(next.Info(), _origin, Breaker.UntilHalfOpen(Now)));
                continue;
            }

            if (Authorize(next))
            {
                Dispatch(next);
            }
        }

        PrepareReady();
    }

    // ---- the hand-off: a completing attempt starts the next request in the slot it frees ----------------

    /// <summary>
    /// With every slot taken and requests queued, puts the head of the queue next in line (at most one per attempt
    /// on the wire), its message built and its token attached: the attempt that completes next with a plain 2xx
    /// starts it on its own thread, in the slot it frees (<see cref="AttemptRunner"/>), so under load a slot does
    /// not wait for this actor's turn on the thread pool behind every caller's work. Only where the actor has
    /// nothing to decide at the start: no rate limit, adaptive limit or pause, a closed circuit, no refresh
    /// waiting, not draining; and only plain requests: no body (a stream's body could not be made twice), no
    /// hooks, no download, no DPoP proof, not a shared call's leader whose own caller already left. Anything that
    /// changes those conditions takes them back (<see cref="Unready"/>).
    /// </summary>
    private void PrepareReady()
    {
        if (_queue.First is null || _ledger.ReadyCount >= InFlight.Count || _priority.First is not null ||
            _ledger.Limit is not null || !_rate.Unlimited || _drainReply is not null ||
            (Breaker.Enabled && Breaker.State != CircuitState.Closed) || PauseLeft() > TimeSpan.Zero)
        {
            return;
        }

        if (_readyOrder.Count > 0)
        {
            _readyOrder.RemoveAll(static e => !e.IsStillReady); // taken by an attempt, or reclaimed one by one
        }

        if (_reclaimedAlone > _ledger.MaxConnections)
        {
            // Requests reclaimed one by one (their deadline, their caller) leave their entries in the ledger's queue
            // until an attempt dequeues them; on an origin where nothing completes, nothing would. Rebuilt here.
            _reclaimedAlone = 0;
            Unready();
            _ledger.DropStale();
        }

        while (_ledger.ReadyCount < InFlight.Count && Peek(_queue) is { } next)
        {
            if (next.Priority || next.IsCompleted || (next.Method != HttpMethod.Get && next.Method != HttpMethod.Head) || next.Content is not null ||
                next.Hooks.Interceptors.Count > 0 || next.Request.Download is not null || IsDPoPRealm(next))
            {
                return; // in order: the head goes through the actor, and so does everything behind it
            }

            _queue.Remove(next);
            if (!Authorize(next))
            {
                continue; // it waits for a token (or failed with its ended session)
            }

            if (Build(next) is not { } message)
            {
                continue; // failed typed
            }

            next.MakeReady(PopSource(), message);
            next.State = ExchangeState.Ready;
            _readyOrder.Add(next);
            _ledger.AddReady(next);
        }
    }

    /// <summary>True when the exchange's realm is sender-constrained: each attempt's proof is made by the actor when it starts.</summary>
    private bool IsDPoPRealm(Exchange ex) =>
        ex.Client.AuthRealm is { } realm && _context.Realms.TryGetValue(realm, out var route) && route.DPoP is not null;

    /// <summary>
    /// Reclaims, one by one and in their order, the exchanges this actor made ready and no attempt took, into
    /// <see cref="_reclaimed"/> (one by one: an attempt that has just dequeued one but not yet claimed it finds it
    /// reclaimed; a taken one is on the wire and reported by its attempt).
    /// </summary>
    private void ReclaimInOrder()
    {
        foreach (var ex in _readyOrder)
        {
            if (ex.State == ExchangeState.Ready && _ledger.Reclaim(ex))
            {
                _reclaimed.Add(ex);
            }
        }

        _readyOrder.Clear();
        _ledger.DropStale();
    }

    /// <summary>
    /// Takes every ready exchange back to the front of the queue, in order (one an attempt already took is on the
    /// wire, reported by that attempt). Called when what made the hand-off safe changes: a pause, the circuit, a
    /// refresh to run, the realm's token, draining.
    /// </summary>
    private void Unready()
    {
        if (_readyOrder.Count == 0)
        {
            return;
        }

        ReclaimInOrder();
        try
        {
            foreach (var ex in _reclaimed)
            {
                Unprepare(ex); // all of them first: nothing here throws, so none stays half ready if queueing does
            }

            for (var i = _reclaimed.Count - 1; i >= 0; i--)
            {
                Enqueue(_reclaimed[i], front: true, armDeadline: false); // its total deadline is in the wheel already
            }
        }
        finally
        {
            _reclaimed.Clear();
        }
    }

    /// <summary>A reclaimed ready exchange is a queued one again: its message disposed, its source given back.</summary>
    private void Unprepare(Exchange ex)
    {
        ex.TakeReadyMessage()?.Dispose();
        ReturnSource(ex);
        ex.State = ExchangeState.Queued;
    }

    /// <summary>The actor starts a ready exchange itself (a slot it saw free): as a completing attempt would.</summary>
    private void StartReady(Exchange ex)
    {
        ex.TakenOver();
        var message = ex.TakeReadyMessage()!;
        ex.ArmTaken();
        Start(ex, message);
    }

    /// <summary>
    /// A completing attempt started <paramref name="ex"/> in the slot it freed: it joins the in-flight set in the
    /// same message that takes the completed one out, so the count the actor sees never exceeds what is on the wire.
    /// </summary>
    private void TakeOver(Exchange ex, bool started)
    {
        InFlight.Add(ex);
        ex.TakenOver();
        Deadlines.Remove(ex);
        if (ex.State == ExchangeState.Ready)
        {
            ex.State = ExchangeState.InFlight;
        }

        ex.InFlightAtStart = InFlight.Count;
        if (started)
        {
            _context.Metrics.Attempts.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        }
    }

    private Exchange? Peek(ExchangeList list)
    {
        while (list.First is { } first)
        {
            if (!first.IsCompleted || first.HasLiveFollowers)
            {
                return first;
            }

            list.Remove(first);
            Drop(first);
        }

        return null;
    }

    private void Dispatch(Exchange ex)
    {
        if (Build(ex) is not { } message)
        {
            return;
        }

        // A download's body may take as long as the whole request is allowed to (WithTimeout for large files).
        ex.ArmAttempt(PopSource(), ex.Request.Download is null ? ex.Client.ResponseTimeout : ex.TotalTimeout);
        ex.Attempts++;
        ex.AttemptStartedAt = _context.Time.GetTimestamp();
        Start(ex, message);
    }

    private CancellationTokenSource PopSource() => _sources.TryPop(out var source) ? source : NewAttemptSource();

    /// <summary>The attempt's message, or null when building it failed (the request is answered, typed).</summary>
    private HttpRequestMessage? Build(Exchange ex)
    {
        HttpRequestMessage? message = null;
        try
        {
            message = RequestMessageBuilder.Build(ex, ex.Client.AuthRealm is { } realm && _context.Realms.TryGetValue(realm, out var route)
                ? route.Settings.Origins
                : null);
            DPoPFor(ex)?.Attach(message, ex.Authorization); // a fresh DPoP proof per attempt
            return message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            message?.Dispose();
            Finish(ex, new InvalidRequestException(ex.Info(), "the body could not be opened: " + e.Message));
            return null;
        }
        catch (Exception e)
        {
            message?.Dispose();
            // Whatever building the message throws (a header .NET will not send, a body that cannot be made, a
            // custom NetContent's own exception) is this request's problem: it fails typed, before anything was
            // sent, and counts against nobody.
            Finish(ex, new InvalidRequestException(ex.Info(), e is InvalidOperationException or FormatException or ArgumentException
                ? e.Message
                : "the request could not be built: " + e.GetType().Name + ": " + e.Message));
            return null;
        }
    }

    /// <summary>
    /// Puts an armed attempt on the wire. Only now is it on the wire: nothing from here to the attempt's start can
    /// throw, so a slot is never held by an attempt that did not start (the ledger keeps it across a restart until
    /// the attempt reports back).
    /// </summary>
    private void Start(Exchange ex, HttpRequestMessage message)
    {
        ex.State = ExchangeState.InFlight;
        InFlight.Add(ex);
        ex.InFlightAtStart = InFlight.Count;
        Deadlines.Remove(ex);
        _context.Metrics.Attempts.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
        _ = AttemptRunner.RunAsync(_http, ex, message, ex.Token, Self, _ledger);
    }

    // ---- outcomes ----------------------------------------------------------------------------------------

    private void OnAttemptCompleted(AttemptCompleted done, Exchange? handedTo, bool started)
    {
        var ex = done.Exchange;
        InFlight.Remove(ex);
        if (handedTo is { } next)
        {
            TakeOver(next, started); // first: whatever happens below, the actor knows it is on the wire
        }

        ReturnSource(ex);
        try
        {
            if (done is TakenNotSent && ex.HasLiveFollowers && ex.State == ExchangeState.InFlight && PauseLeft() == TimeSpan.Zero)
            {
                // Taken for a freed slot after its own caller had left, never sent: its followers still want the call.
                // It keeps its place at the head of the line and the slot goes to it, as if the actor had started it;
                // handing the followers off would admit them again behind everything queued since. Whatever was made
                // ready behind it in the meantime goes back first.
                Unready();
                Enqueue(ex, front: true, armDeadline: false);
                return;
            }

            SampleAttempt(ex, done);
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
                var failure = FailureClassifier.Classify(ex, done.Error);
                if (failure is OperationCanceledException)
                {
                    // Its own caller went away: followers did not, they get a wire request of their own.
                    Finish(ex, failure);
                    return;
                }

                if (!FailureClassifier.SaysNothingOfOrigin(ex, failure))
                {
                    RecordOutcome(FailureClassifier.CountsAgainstOrigin(ex, failure));
                }

                // (The caller's own fault, or a cut-off upload, says nothing of the origin, not even that it is
                // healthy: no success is recorded either, and a half-open probe that ends so is abandoned when it settles.)
                if (failure is NetTimeoutException { Kind: TimeoutKind.Total } && ex.HasLiveFollowers)
                {
                    // The leader's own budget ran out, not the followers': they get a wire call of their own.
                    Finish(ex, failure);
                    return;
                }

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

        // A streamed body's source outlived the attempt's hand-over (its registration was the stream's): not reused.
        if (ex.Hooks.Interceptors.Count == 0 && !ex.Streamed && source.TryReset())
        {
            _sources.Push(source);
        }
        else
        {
            source.Dispose();
        }
    }

    /// <summary>
    /// A streamed 2xx was handed to its caller: the attempt counts now, when its headers arrived (the circuit, the
    /// token it vouches for, metrics, the request log); whatever happens to the body later is the caller's stream's
    /// error, not the origin's. The exchange stays on the wire, holding its slot, until <see cref="OnStreamEnded"/>.
    /// </summary>
    private void OnStreamStarted(StreamStarted started)
    {
        var ex = started.Exchange;
        RememberDPoPNonce(ex, started.Response);
        RecordOutcome(false);
        Vouch(ex);
        InvalidateAfterUnsafe(ex, started.Response);
        if (_context.Log.IsEnabled(LogLevel.Debug))
        {
            _context.Log.Completed(ex.Method.Method, ex.Redaction.Url(ex.Target!), (int)started.Response.StatusCode,
                started.Result.Elapsed.TotalMilliseconds, ex.Attempts, ex.Request.Client);
        }

        Deliver(ex, started.Result, null, delivered: true);
    }

    /// <summary>
    /// A streamed body ended (read, failed, disposed, timed out, aborted): its slot is free and the exchange leaves
    /// the origin. Once per stream; a stream that ends after this host stopped tells nobody (the host aborted it).
    /// </summary>
    private void OnStreamEnded(Exchange ex)
    {
        if (!InFlight.Remove(ex))
        {
            return;
        }

        ReturnSource(ex);
        Release(ex);
        PumpQueue();
        CheckDrained();
    }

    /// <summary>A response arrived; <paramref name="delivered"/> is what the attempt already gave the caller (a 2xx), or null.</summary>
    private void OnResponse(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body, NetResponse? delivered)
    {
        RememberDPoPNonce(ex, response);
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

        if (status is >= 200 and <= 399)  // AllowErrorStatus moved below, so error statuses are retried first
        {
            if (status is >= 200 and <= 299)
            {
                Vouch(ex); // the server accepted this token version
            }

            Complete(ex, response, body, delivered);
            return;
        }

        var retryAfter = RetryAfter.From(response.Headers.RetryAfter, Now, _maxRetryAfter);
        if (retryAfter is { } pause && status is 429 or 503)
        {
            PauseOrigin(pause); // the whole origin waits, not only this request
        }

        var problem = ProblemOf(ex, response, body);
        var failure = HttpStatusException.For(response.StatusCode, ex.Info(), problem, retryAfter);
        if (!TryRetry(ex, failure, retryAfter))
        {
            if (ex.Request.AllowErrorStatus)  // the last error status is the response (HttpClient handler)
            {
                Complete(ex, response, body, delivered);
                return;
            }

            FailOrServeStale(ex, failure);
        }
    }

    /// <summary>
    /// The response's problem details, if it carries them, with any credential the request sent masked in the text
    /// that goes into the error's message and the log (a server may echo the Authorization header back).
    /// </summary>
    private static NetProblemDetails? ProblemOf(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        if (!IsProblemJson(response) || NetProblemDetails.TryParse(body.Span) is not { } problem)
        {
            return null;
        }

        if (ex.Authorization is not { } authorization)
        {
            return problem;
        }

        var space = authorization.IndexOf(' ');
        var token = space >= 0 ? authorization[(space + 1)..].Trim() : authorization;
        return token.Length < 8 ? problem : problem with { Title = Mask(problem.Title, token), Detail = Mask(problem.Detail, token) };

        static string? Mask(string? text, string secret) =>
            text is not null && text.Contains(secret, StringComparison.Ordinal) ? text.Replace(secret, "***", StringComparison.Ordinal) : text;
    }

    private static bool IsProblemJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media &&
        (media.Equals("application/problem+json", StringComparison.OrdinalIgnoreCase) ||
         media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private void RecordOutcome(bool failed)
    {
        _probe = null;
        Publish(Breaker.Record(failed, Now));
    }

    private void Publish(CircuitStateChanged? changed)
    {
        if (changed is null)
        {
            return;
        }

        Unready(); // the next request's start is the actor's decision again (an open circuit fails it fast)
        var @event = changed with { Origin = _origin };
        _gauge.SetCircuit(@event.Current);
        _log.Info("Circuit for {Origin}: {Previous} -> {Current}", _origin, @event.Previous, @event.Current);
        Context.System.EventStream.Publish(@event);
        if (@event.Current == CircuitState.Open)
        {
            Timers.StartSingleTimer("circuit-probe", CircuitProbeDue.Instance, Breaker.UntilHalfOpen(Now));
        }
    }

    private void OnCircuitProbeDue()
    {
        // Moves an open circuit to half-open on time, so observers (health checks) see it without traffic. The
        // probe slot Allow() reserves belongs to no request here, so it is handed back for the next one.
        if (Breaker.State == CircuitState.Open && Breaker.Allow(Now, out _, out var changed))
        {
            Breaker.ProbeAbandoned();
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

        if (ex.Priority && Origins.KeyOf(next) != _origin)
        {
            // A token endpoint's call carries the refresh token or the client's secret in its body: it never follows
            // a redirect off its origin. The realm judges that answer once, as unusable (a misconfigured endpoint
            // does not heal by itself), instead of retrying it as an outage for ever.
            Fail(ex, new ResponseFormatException(ex.Info(),
                $"the token endpoint answered {(int)status} with a redirect to another origin, and a token request never leaves its endpoint's origin", null));
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
        else if (!RetryClassifier.IsIdempotent(ex.Method) && ex.IdempotencyKey is null)
        {
            // A request that is unsafe to repeat goes to each address once: a redirect back to one it was already
            // sent to (a loop) ends here with the redirect as its answer, instead of sending it there again.
            var visited = ex.Visited ??= [];
            visited.Add(ex.Target!);
            if (visited.Contains(next))
            {
                Fail(ex, new HttpStatusException(status, ex.Info(), null));
                return;
            }
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
        _shared.Leave(ex);
        ex.OriginKey = origin;
        ex.Owner = null;
        ex.State = ExchangeState.New;
        Deadlines.Remove(ex); // the next host keeps its deadline from its admission on
        _ledger.Leave(ex); // and counts it against its own bounds
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
        _shared.Leave(ex);
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
            follower.Readmitting = true;
            Self.Tell(follower);
        }
    }

    /// <summary>Takes the exchange out of whatever list or shared request holds it here.</summary>
    private void Detach(Exchange ex)
    {
        if (ex.State == ExchangeState.Ready)
        {
            if (_ledger.Reclaim(ex))
            {
                Unprepare(ex);
                _reclaimedAlone++;
            }
            else
            {
                ex.Abort(); // a completing attempt started it: its outcome is decided here, so its call is aborted
            }
        }

        ex.QueueList?.Remove(ex);

        if (_retrying.Remove(ex))
        {
            Timers.Cancel(ex);
        }

        if (ex.Leader is { } leader)
        {
            leader.Followers?.Remove(ex);
            ex.Leader = null;
            if (leader.IsCompleted && !leader.HasLiveFollowers)
            {
                // The last caller interested in the shared call is gone (the leader's own went first): the call
                // is aborted and its slot freed, whatever the order in which they cancelled; a leader that only
                // waited (for a token, a retry) for its followers leaves now.
                if (InFlight.Contains(leader) || leader.IsTaken)
                {
                    leader.Abort();
                }
                else if (leader.State != ExchangeState.Done)
                {
                    Drop(leader);
                }
            }
        }

        _shared.Leave(ex);
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
            _context.Metrics.RecordOutcome(ex.Request.Client, ex.Method, response is not null
                ? (int)response.StatusCode
                : (error as HttpStatusException)?.StatusCode is { } code ? (int)code : null, error,
                delivered ? response!.Elapsed : ex.Elapsed);
            if (response?.Deduplicated == true)
            {
                _context.Metrics.Deduplicated.Add(1, new KeyValuePair<string, object?>("netactors.client", ex.Request.Client));
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
            Breaker.ProbeAbandoned();
        }

        if (!InFlight.Contains(ex) && !ex.IsTaken)
        {
            Release(ex); // (a taken one is on the wire: it is released when its attempt reports back)
        }
    }

    /// <summary>
    /// Frees the exchange: out of the deadline wheel, its caller registration disposed, out of the ledger (its
    /// place may be taken by the next request).
    /// </summary>
    private void Release(Exchange ex)
    {
        Deadlines.Remove(ex);
        ex.Release();
        _ledger.Leave(ex);
        if (_evictable && _ledger.Members.Count == 0)
        {
            ArmIdle();
        }
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
                error);  // the exception, so repeated failures of one kind are logged once per interval
        }
    }

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

    /// <summary>An attempt's cancellation source, on the host's clock (so a test's fake clock fires its deadline).</summary>
    private CancellationTokenSource NewAttemptSource() => ReferenceEquals(_context.Time, TimeProvider.System)
        ? new CancellationTokenSource()
        : new CancellationTokenSource(Timeout.InfiniteTimeSpan, _context.Time);

    private void ScheduleDeadlines(long due)
    {
        _deadlinesDueAt = due;
        var delay = _context.Time.GetElapsedTime(_context.Time.GetTimestamp(), due);
        Timers.StartSingleTimer(DeadlineTimer, DeadlinesDue.Instance, delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    /// <summary>The earliest slot of the deadline wheel is due: every exchange whose total timeout ran out is told.</summary>
    private void OnDeadlinesDue()
    {
        _deadlinesDueAt = long.MaxValue;
        Deadlines.Expire(_context.Time.GetTimestamp(), _expired);
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
        // After a restart the wheel (in the ledger) still holds deadlines, but the timer died with the old actor;
        // so did the timers of a pause and of an open circuit's probe, whose state the ledger keeps.
        if (Deadlines.NextDue() is { } next)
        {
            ScheduleDeadlines(next);
        }

        if (PauseLeft() is var pause && pause > TimeSpan.Zero)
        {
            Timers.StartSingleTimer(PumpTimer, Pump.Instance, pause);
        }

        if (Breaker.State == CircuitState.Open)
        {
            Timers.StartSingleTimer("circuit-probe", CircuitProbeDue.Instance, Breaker.UntilHalfOpen(Now));
        }
    }

    private void OnDeadline(Exchange ex)
    {
        if (!ReferenceEquals(ex.Owner, Self))
        {
            return; // not ours (anymore)
        }

        if (ex.State == ExchangeState.InFlight || ex.IsTaken)
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
            if (ex.Streamed && InFlight.Contains(ex))
            {
                // Its caller reads its body: the request's token covers the body too, and cancelling it aborts the
                // stream (which frees the slot when it ends). The total timeout is the attempt source's.
                if (ex.CallerCancelled)
                {
                    ex.Abort();
                }

                return;
            }

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
            : TokenTimeout(ex) ?? new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total)); // never a bare timeout while the token endpoint fails
    }

    // ---- shutdown and failure ----------------------------------------------------------------------------

    /// <summary>
    /// Graceful shutdown: queued and waiting requests fail now with <see cref="NetShutdownException"/>, new ones
    /// are refused, requests on the wire may finish; <see cref="Drained"/> is sent when none is left.
    /// </summary>
    private void OnDrain(Drain drain)
    {
        _drainReply = Sender;
        Unready();
        foreach (var ex in _ledger.Members.Where(e => !InFlight.Contains(e) && !e.IsTaken && e.State != ExchangeState.Done).ToList())
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
        // The supervisor logs the failure. The request in hand fails; everything else the ledger holds and that
        // is not on the wire is admitted again by the next incarnation (in order); requests on the wire stay in
        // the ledger (the cap holds) and report to the next incarnation.
        _log.Warning("Host actor for {Origin} failed ({Error}); restarting without losing its requests", _origin, reason.GetType().Name);
        var inHand = message switch
        {
            Exchange e => e,
            AttemptCompleted a => a.Exchange,
            SlotHandedOn h => h.Completed.Exchange, // the one it started is on the wire: its own report comes later
            RetryDue r => r.Exchange,
            ExchangeDeadline d => d.Exchange,
            _ => null,
        };
        ReclaimReady(); // ready ones are admitted again below like the queued; taken ones are on the wire
        if (inHand is not null)
        {
            FailInHand(inHand, reason);
        }

        foreach (var ex in _ledger.Members.ToList())
        {
            if (ReferenceEquals(ex, inHand) || InFlight.Contains(ex) || ex.IsTaken || ex.State == ExchangeState.Done ||
                (ex.State == ExchangeState.Following && ex.Leader is { } leader && (InFlight.Contains(leader) || leader.IsTaken)))
            {
                continue; // on the wire, or sharing a call that is: its attempt's report reaches the next incarnation
            }

            if (ex.Readmitting)
            {
                continue; // already sent to be admitted again (an earlier restart, a failed leader): that message comes
            }

            // The lists, timers and dedup table that indexed it die with this incarnation.
            ex.ForgetQueue();
            ex.Leader = null;
            ex.Followers = null;
            ex.DedupKey = null;
            ex.State = ExchangeState.Queued;
            ex.Readmitting = true;
            Self.Tell(ex);
        }

        // No base call: the actor has no children, and PostStop must not fail what was handed over.
    }

    /// <summary>The request whose message crashed the actor fails, typed; its slot (if it holds one) is freed.</summary>
    private void FailInHand(Exchange ex, Exception reason)
    {
        var error = new NetRuntimeException(ex.Info(), "the host actor failed while handling it: " + reason.Message, reason);

        // Its followers are admitted again with everything else the ledger holds (PreRestart), not also handed off
        // here: admitted twice, a follower would go on the wire twice, its first call outside the cap.
        if (ex.Followers is { } followers)
        {
            ex.Followers = null;
            foreach (var follower in followers)
            {
                follower.Leader = null;
            }
        }

        try
        {
            // If it is on the wire again (a retry dispatched in this very message), that attempt still counts
            // against the cap and keeps its deadline: it leaves the ledger when the attempt reports back.
            Finish(ex, error);
        }
        catch (Exception)
        {
            // Failing it the usual way failed too: deliver the outcome and free its place directly.
            ex.TryFail(error);
            if (!InFlight.Contains(ex) && !ex.IsTaken)
            {
                Deadlines.Remove(ex);
                ex.Release();
                _ledger.Leave(ex);
            }
        }
    }

    /// <summary>Takes every ready exchange back without queueing it (a restart or a stop re-admits or fails it).</summary>
    private void ReclaimReady()
    {
        ReclaimInOrder();
        foreach (var ex in _reclaimed)
        {
            Unprepare(ex);
        }

        _reclaimed.Clear();
    }

    protected override void PostStop()
    {
        ReclaimReady();
        foreach (var ex in _ledger.Members.ToList())
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

    // ---- idle origins --------------------------------------------------------------------------------------

    /// <summary>The origin holds nothing: after <c>idle-origin-timeout</c> of that, it asks the gateway to remove it.</summary>
    private void ArmIdle()
    {
        _idleSince = Now;
        if (!Timers.IsTimerActive(IdleTimer))
        {
            Timers.StartSingleTimer(IdleTimer, IdleCheck.Instance, _idleTimeout);
        }
    }

    private void OnIdleCheck()
    {
        if (_ledger.Members.Count > 0 || !_ledger.IsEmpty)
        {
            return; // busy again; the timer is armed anew when it next holds nothing
        }

        var idleFor = Now - _idleSince;
        if (idleFor < _idleTimeout)
        {
            Timers.StartSingleTimer(IdleTimer, IdleCheck.Instance, _idleTimeout - idleFor);
            return;
        }

        _context.Gateway.Tell(new OriginIdle(_origin, _ledger));
    }
}
