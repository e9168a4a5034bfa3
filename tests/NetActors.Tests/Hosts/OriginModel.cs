using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Akka.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NetActors.Auth;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosts;
using NetActors.Resilience;
using NetActors.Telemetry;

namespace NetActors.Tests.Hosts;

/// <summary>What the model does next. The two numbers pick among the live requests, statuses and delays.</summary>
public enum OriginEvent
{
    AdmitGet,
    AdmitPostWithoutKey,
    AdmitPostWithKey,
    Cancel,
    Respond,
    Advance,
    GrantToken,
    DenyToken,
    Crash,

    /// <summary>Answers a call with a failure while the actor's jitter source throws: a crash with that request in hand.</summary>
    CrashWhileAnswering,

    /// <summary>Admits a GET while the actor's JSON options source throws: a crash with the new request in hand.</summary>
    CrashWhileAdmitting,

    /// <summary>Two crashes back to back: the second comes before the first restart's re-admissions are handled.</summary>
    CrashTwice,

    /// <summary>
    /// Lets one held response or error hook return (with hooks on, every delivery waits in one); one pick in three
    /// makes it throw instead, a hook's bug.
    /// </summary>
    ReturnHook,
    Shutdown,
}

/// <summary>One step of a generated sequence.</summary>
public readonly record struct OriginStep(OriginEvent Event, int A, int B)
{
    public override string ToString() => $"{Event}({A},{B})";
}

/// <summary>How a sequence ends: everything answered or cancelled at once, or time run out past every deadline.</summary>
public enum OriginEnd
{
    AnswerAndCancel,
    RunOutTheClock,
}

/// <summary>The origin's shape for one sequence.</summary>
public readonly record struct OriginShape(int MaxConnections, int QueueCapacity, bool Auth, bool Dedup,
    AdaptiveAlgorithm? Adaptive = null, bool Hooks = false)
{
    public override string ToString() =>
        $"max-connections {MaxConnections}, queue-capacity {QueueCapacity}, auth {Auth}, dedup {Dedup}, " +
        $"adaptive {(Adaptive is { } a ? a.ToString() : "off")}, hooks {Hooks}";
}

/// <summary>
/// Runs one generated sequence of events against a real <see cref="HostActor"/>, with a fake clock
/// (<see cref="FakeTimeProvider"/> for the actor's deadlines and attempt timeouts, Akka's
/// <see cref="TestScheduler"/> for its timers, moved together), a scripted transport that holds every call until
/// the sequence answers it, a scripted token actor and (with hooks on) a client interceptor whose response and
/// error hooks are held until the sequence lets them return (or throw). Everything the actor does runs on the
/// sequence's thread (a held hook is resumed on it too), so a sequence is deterministic and replays from its seed;
/// that thread is watched, and a step that does not finish is a violation naming it.
/// After every step it checks the origin's promises: at most max-connections calls on the wire at any moment, and
/// with an adaptive limit, when a call goes on the wire, at most the limit at that moment; at most
/// max-connections + queue-capacity requests held; at most one outcome per request, and none missing past its
/// total timeout (plus a small tolerance); every outcome of a kind the <see cref="OriginOracle"/> allows; no POST
/// without an idempotency key acted on twice; every attempt through the request hooks; no call of a cancelled
/// request left on the wire (unless another request may share it).
/// At the end (<see cref="OriginEnd.AnswerAndCancel"/>) it answers every call, grants every token and cancels
/// every request left, without moving the clock: once everything is answered, a request still without an outcome
/// may only be waiting for time (a retry delay, a pause); after the cancels, every request must have exactly one outcome, every slot
/// be free and the ledger empty: a leak shows as a failure, not drained by a timeout. With
/// <see cref="OriginEnd.RunOutTheClock"/> it instead runs time past every deadline and checks the same: the
/// deadlines alone answer everything.
/// </summary>
internal sealed class OriginModel
{
    private const string Origin = "http://model.test:80";
    private const string Realm = "model-realm";
    private const string HookHeader = "X-Model-Hook";
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Chunk = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan HostDeadlineTolerance = TimeSpan.FromMilliseconds(20);

    /// <summary>How long the worker may go without progress (a step, a moment of time, a move of the end): past it, hung.</summary>
    private static readonly TimeSpan StepBound = TimeSpan.FromSeconds(5);

    /// <summary>How many answers (or grants) one round of the end may give, and how many rounds: past them, a livelock.</summary>
    private const int Livelock = 500;
    private const int Rounds = 50;

    private readonly ActorSystem _system;
    private readonly TestScheduler _scheduler;
    private readonly ModelClock _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly OriginShape _shape;
    private readonly ClientSettings _client;
    private readonly AdmissionLedger _ledger;
    private readonly ScriptedWire _wire;
    private readonly Recorder _gateway;
    private readonly Recorder _tokens;
    private readonly IActorRef _host;
    private readonly OriginOracle _oracle;
    private readonly ModelHooks? _hooks;
    private readonly ClientHooks _clientHooks = new();
    private readonly List<ModelRequest> _requests = [];
    private readonly Dictionary<Exchange, ModelRequest> _byExchange = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<NetRequest, ModelRequest> _byRequest = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _violations = [];
    private readonly Random _random;
    private long _tokenVersion;
    private bool _shutdown;
    private int _step;
    private int _progressed;
    private bool _crashOnJitter;
    private bool _crashOnJson;
    private bool _crashed;

    public OriginModel(ActorSystem system, OriginShape shape, int seed)
    {
        _system = system;
        _scheduler = (TestScheduler)system.Scheduler;
        _shape = shape;
        _client = new ClientSettings
        {
            Name = "model",
            BaseAddress = new Uri(Origin),
            MaxConnections = shape.MaxConnections,
            QueueCapacity = shape.QueueCapacity,
            ResponseTimeout = TimeSpan.FromSeconds(2),
            TotalTimeout = TimeSpan.FromSeconds(6),
            MaxRetryAfter = TimeSpan.FromSeconds(3),
            MaxRedirects = 2,
            Deduplicate = shape.Dedup,
            AuthRealm = shape.Auth ? Realm : null,
            Retry = new RetrySettings { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(1) },
            CircuitBreaker = new CircuitBreakerSettings { MinimumThroughput = 4, BreakDuration = TimeSpan.FromSeconds(1) },
        };
        _oracle = new OriginOracle(shape.Auth, shape.Dedup, _client.MaxRedirects, HostDeadlineTolerance, _client.MaxRetryAfter);
        // The adaptive limit on short windows of few samples, so that a sequence moves it up and down (and probes).
        var limit = shape.Adaptive is { } algorithm
            ? AdaptiveLimit.Create(new AdaptiveConcurrencySettings
            {
                Enabled = true, Algorithm = algorithm, MinLimit = 1, Window = TimeSpan.FromMilliseconds(100),
                MinWindowSamples = 1, BaselineProbeInterval = TimeSpan.FromSeconds(1), QueueAllowance = 1, Smoothing = 1,
            }, shape.MaxConnections, _clock)
            : null;
        _ledger = new AdmissionLedger(shape.MaxConnections, shape.QueueCapacity, _clock, _client.CircuitBreaker, limit);
        _wire = new ScriptedWire(() => _ledger.SlotLimit, HeldBack, OfCall, Answered, _clock.ParkIfHung);
        if (shape.Hooks)
        {
            _hooks = new ModelHooks(this);
            _clientHooks.Interceptors.Add(_hooks);
        }

        var provider = ((ExtendedActorSystem)system).Provider;
        _gateway = new Recorder(provider, "gateway");
        _tokens = new Recorder(provider, "tokens");
        var realms = new Dictionary<string, RealmRoute>
        {
            [Realm] = new(new RealmSettings { Name = Realm, Origins = new HashSet<string> { Origin } }, _tokens, DPoP: null),
        };
        _random = new Random(seed);
        var context = new HostContext(_gateway, realms, _clock, new NetMetrics(), new RequestLog(NullLogger.Instance),
            new NetActors.Caching.CacheRegistry(), JsonFor, (_, _) => new HttpMessageInvoker(_wire), () => 1, Jitter);
        _host = system.ActorOf(HostActor.Props(context, Origin, _client, _ledger));
    }

    /// <summary>
    /// True once a sequence of this model did not finish a step: its thread still runs (nothing can stop a loop), so
    /// the actor system it ran on may be wedged and no further sequence should run on it.
    /// </summary>
    public bool Hung { get; private set; }

    /// <summary>Why no call may go on the wire now (a Retry-After pause, an open circuit), or null.</summary>
    private string? HeldBack() =>
        _ledger.PausedUntil > _clock.GetUtcNow() ? "a Retry-After paused the origin"
        : _ledger.Breaker.State == NetActors.Resilience.CircuitState.Open ? "the circuit was open"
        : null;

    /// <summary>Calls a completing attempt started in the slot it freed, without the host actor's turn (the hand-off).</summary>
    public int HandedOff => _wire.HandedOff;

    /// <summary>The most entries the hand-off's queue held after any step (ready requests and ones reclaimed since).</summary>
    public int MostReadyEntries { get; private set; }

    /// <summary>
    /// Runs the steps, checking after each; then ends the sequence as <paramref name="end"/> says and checks that
    /// nothing is left. The sequence runs on the model's worker thread, watched from this one: the actor runs on the
    /// thread that tells it, so a livelock in the actor (or a wait that never ends) would hang that thread; a step (or
    /// a moment of the end) that does not finish within <see cref="StepBound"/> is a violation naming it, not a hung
    /// test, and the next sequence gets a new worker.
    /// </summary>
    public IReadOnlyList<string> Run(IReadOnlyList<OriginStep> steps, OriginEnd end = OriginEnd.AnswerAndCancel)
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        var done = new ManualResetEventSlim(false); // not disposed if the worker hangs: it may still set it
        lock (WorkerGate)
        {
            // One thread runs the sequences one after the other (a thread per sequence would cost more than many of them).
            (_worker ??= new Worker()).Post(() =>
            {
                try
                {
                    RunHere(steps, end);
                }
                catch (Exception e)
                {
                    failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    done.Set();
                }
            });

            // A generous bound on a signal (the worker's progress, its end) that normally comes within milliseconds.
            while (!done.Wait(StepBound))
            {
                if (Interlocked.Exchange(ref _progressed, 0) == 0)
                {
                    Hung = true;
                    _clock.Hung = true;
                    _worker = null; // it never comes back: the next sequence gets a thread of its own
                    var step = Volatile.Read(ref _step);
                    lock (_violations)
                    {
                        return
                        [
                            .. _violations,
                            $"{(step <= steps.Count ? $"step {step} ({steps[step - 1]})" : "the end of the sequence")} did not finish within " +
                            $"{StepBound.TotalSeconds:0} s: a livelock or a wait that never ends; the sequence to it: " +
                            string.Join(", ", steps.Take(step)),
                        ];
                    }
                }
            }
        }

        done.Dispose();
        failure?.Throw();
        return _violations;
    }

    private static readonly object WorkerGate = new();
    private static Worker? _worker;

    /// <summary>A thread without a synchronization context that runs what is posted to it, one at a time.</summary>
    private sealed class Worker
    {
        private readonly SemaphoreSlim _posted = new(0);
        private Action? _next;

        public Worker() => new Thread(Loop) { IsBackground = true, Name = "origin-model" }.Start();

        public void Post(Action action)
        {
            Volatile.Write(ref _next, action);
            _posted.Release();
        }

        private void Loop()
        {
            while (true)
            {
                _posted.Wait();
                Interlocked.Exchange(ref _next, null)!();
            }
        }
    }

    /// <summary>The worker made progress (a step, a moment of time, a move of the end): the watch is reset.</summary>
    private void Progressed() => Volatile.Write(ref _progressed, 1);

    private void RunHere(IReadOnlyList<OriginStep> steps, OriginEnd end)
    {
        // On a thread without a synchronization context an attempt's continuation runs inline, on this thread,
        // when the sequence answers its call: every step, and all it sets off, is over when the step returns.
        try
        {
            for (var i = 0; i < steps.Count && _violations.Count == 0; i++)
            {
                Volatile.Write(ref _step, i + 1);
                Apply(steps[i]);
                AwaitHooks();
                Check($"after step {i + 1} ({steps[i]})");
                Trace($"{i + 1} {steps[i]}");
                Progressed();
            }

            if (_violations.Count == 0)
            {
                Volatile.Write(ref _step, steps.Count + 1);
                if (end == OriginEnd.AnswerAndCancel)
                {
                    AnswerAndCancelEverything();
                }
                else
                {
                    Advance(_client.TotalTimeout + TimeSpan.FromSeconds(1));
                    AwaitHooks();
                    Check("after the clock ran out");
                }

                if (_violations.Count == 0)
                {
                    CheckQuiescent(end == OriginEnd.AnswerAndCancel ? "after answering and cancelling everything" : "after every deadline");
                }
            }
        }
        finally
        {
            _system.Stop(_host);
            _hooks?.ReturnAll();
        }
    }

    private System.Text.Json.JsonSerializerOptions JsonFor(ClientSettings client)
    {
        if (_crashOnJson)
        {
            _crashOnJson = false;
            _crashed = true;
            throw new InvalidOperationException("a bug injected by the model (JSON options)");
        }

        return NetJson.Default;
    }

    private double Jitter()
    {
        if (_crashOnJitter)
        {
            _crashOnJitter = false;
            _crashed = true;
            throw new InvalidOperationException("a bug injected by the model (jitter)");
        }

        return _random.NextDouble();
    }

    private void Apply(OriginStep step)
    {
        switch (step.Event)
        {
            case OriginEvent.AdmitGet:
                Admit(NetRequest.Get("model", "/items/" + (step.A % 3)), postWithoutKey: false, step.B);
                break;
            case OriginEvent.AdmitPostWithoutKey:
                Admit(NetRequest.Post("model", "/orders", NetContent.Text("order")), postWithoutKey: true, step.B);
                break;
            case OriginEvent.AdmitPostWithKey:
                Admit(NetRequest.Post("model", "/orders", NetContent.Text("order")).WithIdempotencyKey("key-" + step.A),
                    postWithoutKey: false, step.B);
                break;
            case OriginEvent.CrashWhileAdmitting:
                _crashOnJson = true;
                _crashed = false;
                var admitted = Admit(NetRequest.Get("model", "/items/" + (step.A % 3)), postWithoutKey: false, step.B);
                _crashOnJson = false;
                if (_crashed)
                {
                    admitted.Facts.CrashedInHand = admitted.Outcomes == 0 || admitted.OutcomeStep == _step;
                }

                break;
            case OriginEvent.Cancel:
                var live = _requests.Where(r => r.Outcomes == 0).ToList();
                if (live.Count > 0)
                {
                    CancelRequest(live[step.A % live.Count]);
                }

                break;
            case OriginEvent.Respond:
                _wire.Respond(step.A, step.B);
                break;
            case OriginEvent.CrashWhileAnswering:
                // A failure (404, 503 or a reset) makes the actor decide on a retry, which draws the jitter.
                if (_wire.Peek(step.A) is { } answered)
                {
                    _crashOnJitter = true;
                    _crashed = false;
                    var inHand = answered.Outcomes == 0;
                    _wire.Respond(step.A, (step.B % 3) switch { 0 => 0, 1 => 6, _ => 7 });
                    _crashOnJitter = false;
                    if (_crashed && inHand)
                    {
                        answered.Facts.CrashedInHand = true;
                    }
                }

                break;
            case OriginEvent.Advance:
                Advance(TimeSpan.FromMilliseconds(1 + step.A % 2000));
                break;
            case OriginEvent.GrantToken:
                GrantToken(step.B);
                break;
            case OriginEvent.DenyToken:
                if (_tokens.Take<GetToken>() is not null)
                {
                    var denial = step.A % 2 == 0 ? TokenDenial.SessionExpired : TokenDenial.Failed;
                    if (denial == TokenDenial.SessionExpired)
                    {
                        _oracle.SessionExpiredStep ??= _step;
                    }
                    else
                    {
                        _oracle.TokenFailedStep ??= _step;
                    }

                    _host.Tell(new TokenDenied(Realm, denial, "denied by the model"));
                }

                break;
            case OriginEvent.Crash:
                _host.Tell(new InjectFault("crash injected by the model"));
                break;
            case OriginEvent.CrashTwice:
                _host.Tell(new InjectFault("crash injected by the model, twice", Again: true));
                break;
            case OriginEvent.ReturnHook:
                _hooks?.Return(step.A, fail: step.B % 3 == 0);
                break;
            case OriginEvent.Shutdown:
                if (!_shutdown)
                {
                    _shutdown = true;
                    _oracle.ShutdownStep = _step;
                    _host.Tell(Drain.Instance, _gateway);
                }

                break;
        }
    }

    private bool GrantToken(int pick)
    {
        if (_tokens.Take<GetToken>() is not { } ask)
        {
            return false;
        }

        _host.Tell(new TokenGranted(Realm, "token-" + ++_tokenVersion, Math.Max(ask.StaleVersion + 1, _tokenVersion),
            pick % 2 == 0 ? null : _clock.GetUtcNow() + TimeSpan.FromMilliseconds(500 + pick)));
        return true;
    }

    private void CancelRequest(ModelRequest r)
    {
        if (r.Outcomes == 0)
        {
            r.Facts.CancelledStep ??= _step;
        }

        r.Cancel.Cancel();
    }

    private ModelRequest Admit(NetRequest request, bool postWithoutKey, int timeoutPick)
    {
        var id = _requests.Count + 1;
        var path = request.Url!;

        // Some requests carry their own, shorter total timeout.
        var timeout = timeoutPick % 3 == 0 ? TimeSpan.FromMilliseconds(300 + timeoutPick % 3000) : _client.TotalTimeout;
        if (timeout != _client.TotalTimeout)
        {
            request = request.WithTimeout(timeout);
        }

        var reply = new Recorder(((ExtendedActorSystem)_system).Provider, "reply-" + id);
        var cancel = new CancellationTokenSource();
        var ex = Exchange.ForActor(request, reply, cancel.Token, _clock);
        ex.Client = _client;
        ex.OriginKey = Origin;
        if (_hooks is not null)
        {
            ex.Hooks = _clientHooks;
        }

        var facts = new RequestFacts(id, path, request.Method == HttpMethod.Get, postWithoutKey, _step, _clock.GetUtcNow(), timeout);
        var model = new ModelRequest(id, request, ex, reply, cancel, facts);
        _requests.Add(model);
        _byExchange[ex] = model;
        _byRequest[request] = model;
        reply.Owner = model;
        reply.Model = this;

        // What the facade does: count it at the edge, or answer it there.
        if (!_ledger.TryEnter(ex))
        {
            facts.RefusedAtEdge = true;
            reply.Tell(new Status.Failure(new OverloadedException(ex.Info(), Origin, _shape.QueueCapacity)), ActorRefs.NoSender);
            return model;
        }

        _host.Tell(ex);
        return model;
    }

    /// <summary>The request whose attempt is on the wire with <paramref name="token"/> (the attempt's own token).</summary>
    private ModelRequest? OfCall(CancellationToken token)
    {
        foreach (var ex in _ledger.InFlight)
        {
            if (ex.Token == token && _byExchange.GetValueOrDefault(ex) is { } r)
            {
                // A final answer (a 404, a 401 where there is no token to refresh, a request hook that threw, a
                // 200) ends a request: it never goes on the wire again, whatever the retry policy allows.
                if (r.Facts.Answers.FirstOrDefault(a => IsFinal(a.Answer)) is { Step: > 0 } final)
                {
                    Violation($"request {r.Id} went on the wire again after its final answer {final.Answer} at step {final.Step}");
                }

                return r;
            }
        }

        return null;
    }

    private bool IsFinal(WireAnswer answer) =>
        answer is WireAnswer.Ok or WireAnswer.NotFound or WireAnswer.HookFailed || (answer == WireAnswer.Unauthorized && !_shape.Auth);

    private void Answered(ModelRequest? r, WireAnswer answer)
    {
        r?.Facts.Answers.Add((answer, _step));
        if (answer is WireAnswer.TooManyRequests or WireAnswer.Unavailable)
        {
            _oracle.Pauses.Add(_clock.GetUtcNow());
        }
    }

    /// <summary>Moves both clocks in small steps, so that timers of either fire in their order.</summary>
    private void Advance(TimeSpan by)
    {
        while (by > TimeSpan.Zero)
        {
            var step = by < Chunk ? by : Chunk;
            _clock.Advance(step);
            _scheduler.Advance(step);
            by -= step;
            AwaitHooks();
            Check("while time passed");
            Progressed();
            if (_violations.Count > 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// With hooks on, a delivery's hooks start on the thread pool: waits (for a signal, not a delay) until every
    /// delivery that has begun is held in its hook, so that nothing of the actor runs off this thread.
    /// </summary>
    private void AwaitHooks()
    {
        if (_hooks is null || _violations.Count > 0)
        {
            return;
        }

        while (_requests.FirstOrDefault(r => r.Outcomes == 0 && r.Ex.State == ExchangeState.Done && !_hooks.Holds(r.Request)) is { } waiting)
        {
            // A generous bound on a signal that normally comes within microseconds: its absence is a failure.
            if (!_hooks.Arrived.Wait(TimeSpan.FromSeconds(2)))
            {
                Violation($"request {waiting.Id} is done without an outcome and never reached its response or error hook");
                return;
            }
        }
    }

    private void Check(string when)
    {
        var now = _clock.GetUtcNow();
        if (_ledger.Breaker.State != CircuitState.Closed)
        {
            _oracle.CircuitStep ??= _step;
        }

        if (_wire.MostAtOnce > _shape.MaxConnections)
        {
            Violation($"{when}: {_wire.MostAtOnce} calls on the wire at once, over max-connections {_shape.MaxConnections}");
        }

        if (_wire.OverLimit is { } over)
        {
            Violation($"{when}: {over}");
        }

        if (_wire.DuringPause is { } paused)
        {
            Violation($"{when}: {paused}");
        }

        if (_hooks is not null && _wire.WithoutHook > 0)
        {
            Violation($"{when}: {_wire.WithoutHook} calls went on the wire without passing the client's request hook");
        }

        if (_ledger.Limit is { } limit && (limit.Current < 1 || limit.Current > _shape.MaxConnections))
        {
            Violation($"{when}: the adaptive limit is {limit.Current}, outside [1, max-connections {_shape.MaxConnections}]");
        }

        // The hand-off's queue: at most max-connections ready, and the entries reclaimed one by one are compacted
        // once more than max-connections pile up (at most that many more before the actor prepares again).
        MostReadyEntries = Math.Max(MostReadyEntries, _ledger.ReadyEntries);
        if (_ledger.ReadyCount > _ledger.InFlight.Count || _ledger.ReadyEntries > 3 * _shape.MaxConnections)
        {
            Violation($"{when}: {_ledger.ReadyCount} requests ready for {_ledger.InFlight.Count} slots taken, " +
                      $"{_ledger.ReadyEntries} entries in the hand-off's queue (max-connections {_shape.MaxConnections})");
        }

        // Held: admitted and without an outcome yet (a request whose outcome is decided frees its place at once,
        // even while its attempt still winds down on the wire; the slot itself is the cap's, checked above).
        var capacity = _shape.MaxConnections + _shape.QueueCapacity;
        var held = _ledger.Members.Count(m => !m.IsCompleted);
        if (held > capacity || _ledger.Admitted > capacity)
        {
            Violation($"{when}: the origin holds {held} requests without an outcome (admitted {_ledger.Admitted}), over {capacity}");
        }

        foreach (var r in _requests)
        {
            if (r.Outcomes > 1)
            {
                Violation($"{when}: request {r.Id} got {r.Outcomes} outcomes ({string.Join(", ", r.Kinds)})");
            }
            else if (r.Outcomes == 0 && now - r.Facts.AdmittedAt > r.Facts.Timeout + Tolerance)
            {
                Violation($"{when}: request {r.Id} ({r.Request.Method} {r.Request.Url}) has no outcome {(now - r.Facts.AdmittedAt).TotalMilliseconds:0} ms after admission, past its total timeout of {r.Facts.Timeout.TotalMilliseconds:0} ms");
            }
            else if (r.Outcomes == 1 && r.OutcomeAt - r.Facts.AdmittedAt > r.Facts.Timeout + Tolerance)
            {
                Violation($"{when}: request {r.Id} got its outcome {(r.OutcomeAt - r.Facts.AdmittedAt).TotalMilliseconds:0} ms after admission, past its total timeout");
            }

            if (r.Outcomes >= 1 && !r.Judged)
            {
                Judge(r, when);
            }
        }

        // A caller that cancels aborts its call, unless another request may share it (a GET of the same path, with
        // deduplication on, still without its outcome): no call of a cancelled request lingers on the wire.
        foreach (var owner in _wire.Owners)
        {
            if (owner is { Facts.CancelledStep: { } cancelled } &&
                !(_shape.Dedup && owner.Facts.Get && _requests.Any(o => !ReferenceEquals(o, owner) && o.Outcomes == 0 && o.Facts.Get && !o.Facts.RefusedAtEdge)))
            {
                Violation($"{when}: request {owner.Id} ({owner.Request.Method} {owner.Facts.Path}) was cancelled at step {cancelled} and nobody shares its call, but the call is still on the wire");
            }
        }

        foreach (var (id, sent) in _wire.PostsSent)
        {
            // A 401 says the server did not act on the request (it was not authenticated), and a redirect that it
            // is to be sent elsewhere, so the one resend with a fresh token, or to the new location (a 307 or 308
            // keeps the method and body), is not a second delivery; any other answer, or none, may have been acted on.
            var unprocessed = _wire.PostsNotActedOn.GetValueOrDefault(id);
            if (sent - unprocessed > 1 && _requests[id - 1].Facts.PostWithoutKey)
            {
                Violation($"{when}: POST {id} without an idempotency key went on the wire {sent} times ({unprocessed} answered 401 or redirected)");
            }
        }
    }

    /// <summary>The oracle's verdict on the first outcome of <paramref name="r"/>: its kind must be one the facts allow.</summary>
    private void Judge(ModelRequest r, string when)
    {
        r.Judged = true;
        var allowed = _oracle.Allowed(r.Facts, r.OutcomeStep, r.OutcomeAt, _requests.Select(q => q.Facts));
        var kind = r.Kinds[0];
        if (!allowed.ContainsKey(kind))
        {
            Violation($"{when}: request {r.Id} ({r.Request.Method} {r.Facts.Path}) got {kind} at step {r.OutcomeStep}, " +
                $"{(r.OutcomeAt - r.Facts.AdmittedAt).TotalMilliseconds:0} ms after admission; the oracle allows " +
                $"{(allowed.Count == 0 ? "nothing yet" : string.Join("; ", allowed.Select(a => $"{a.Key} ({a.Value})")))}; " +
                $"its answers: [{string.Join(", ", r.Facts.Answers.Select(a => $"{a.Answer}@{a.Step}"))}]");
        }
    }

    /// <summary>
    /// Ends the sequence without moving the clock: lets every held hook return, grants every token asked for and
    /// answers every call 200, until nothing moves; then cancels every request left and does the same again.
    /// </summary>
    private void AnswerAndCancelEverything()
    {
        Settle();
        CheckOnlyTimeIsAwaited("after answering everything");
        foreach (var r in _requests.Where(r => r.Outcomes == 0).ToList())
        {
            CancelRequest(r);
            AwaitHooks();
            Progressed();
        }

        Settle();
        Check("after answering and cancelling everything");

        void Settle()
        {
            for (var round = 0; round < Rounds && _violations.Count == 0; round++)
            {
                var moved = 0;
                AwaitHooks();
                while (moved < Livelock && _hooks?.Return(0) == true)
                {
                    moved++;
                    AwaitHooks();
                    Progressed();
                }

                while (moved < Livelock && GrantToken(1))
                {
                    moved++;
                    AwaitHooks();
                    Progressed();
                }

                while (moved < Livelock && _wire.OnWire > 0)
                {
                    _wire.Respond(0, 1);
                    moved++;
                    AwaitHooks();
                    Progressed();
                }

                Check("while answering everything");
                if (moved == 0)
                {
                    return;
                }

                if (moved >= Livelock || round == Rounds - 1)
                {
                    // Every request is answered 200 and every token granted: an origin that still asks for more is
                    // in a livelock, a failure of its own (and never a hang of the test).
                    Violation($"while answering everything: the origin still asks for tokens or calls after {round + 1} rounds");
                }
            }
        }
    }

    /// <summary>
    /// With every call answered, every token asked for granted and every hook returned, and the clock not moved, a
    /// request still without an outcome may only be waiting for time: its retry delay, or a Retry-After pause of the
    /// origin (or it follows a shared call whose leader waits so). Anything else (queued with slots free, waiting
    /// for a token nobody was asked for, following a call that is gone, on the wire with no call) would wait for its
    /// deadline: a request lost until its timeout, even though the origin answers.
    /// </summary>
    private void CheckOnlyTimeIsAwaited(string when)
    {
        if (_violations.Count > 0)
        {
            return;
        }

        var paused = _ledger.PausedUntil > _clock.GetUtcNow();
        foreach (var r in _requests.Where(r => r.Outcomes == 0 && !r.Facts.RefusedAtEdge))
        {
            if (!WaitsForTime(r.Ex, 0))
            {
                var leader = r.Ex.Leader is { } l
                    ? $", following {(_byExchange.GetValueOrDefault(l) is { } lr ? $"request {lr.Id}" : "an exchange")} in state {l.State}" +
                      $"{(_ledger.Members.Contains(l) ? "" : " that the origin no longer holds")}{(l.IsCompleted ? " with its outcome" : "")}"
                    : "";
                Violation($"{when}: request {r.Id} ({r.Request.Method} {r.Facts.Path}) has no outcome and waits in state {r.Ex.State}{leader}, " +
                    $"with nothing to wait for but its deadline{(paused ? "" : " (the origin is not paused)")}");
            }
        }

        bool WaitsForTime(Exchange ex, int depth) => ex.State switch
        {
            ExchangeState.WaitingForRetry => true,
            ExchangeState.Queued => paused,
            ExchangeState.Following => depth < 3 && ex.Leader is { } leader && _ledger.Members.Contains(leader) && WaitsForTime(leader, depth + 1),
            _ => false,
        };
    }

    /// <summary>Every request exactly one outcome, every slot free, the ledger empty.</summary>
    private void CheckQuiescent(string when)
    {
        foreach (var r in _requests.Where(r => r.Outcomes != 1))
        {
            Violation($"{when}: request {r.Id} has {r.Outcomes} outcomes");
        }

        if (_wire.OnWire != 0 || _ledger.InFlight.Count != 0)
        {
            Violation($"{when}: {_wire.OnWire} calls still on the wire, {_ledger.InFlight.Count} slots taken");
        }

        if (_ledger.ReadyCount != 0)
        {
            Violation($"{when}: {_ledger.ReadyCount} requests still ready for a slot");
        }

        if (_ledger.Members.Count != 0 || !_ledger.IsEmpty)
        {
            Violation($"{when}: the ledger still holds {_ledger.Members.Count} requests (admitted {_ledger.Admitted})");
        }
    }

    /// <summary>With NETACTORS_MODEL_TRACE set, prints the state after each step (for replaying a seed).</summary>
    private void Trace(string step)
    {
        if (Environment.GetEnvironmentVariable("NETACTORS_MODEL_TRACE") is not { Length: > 0 })
        {
            return;
        }

        Console.WriteLine($"{_clock.GetUtcNow():HH:mm:ss.fff} {step}: wire {_wire.OnWire}, in flight {_ledger.InFlight.Count}, " +
            $"held [{string.Join(", ", _ledger.Members.Select(m => $"{m.Request.Method} {m.Request.Url} {m.State} a{m.Attempts}{(m.IsCompleted ? " done" : "")}"))}], " +
            $"outcomes [{string.Join(" ", _requests.Select(r => $"{r.Id}:{string.Join("+", r.Kinds)}"))}]");
    }

    private void Violation(string text)
    {
        text += $" [wire {_wire.OnWire}, sent {_wire.Sent}, in flight {_ledger.InFlight.Count}, held {_ledger.Members.Count}, states {string.Join("/", _ledger.Members.Select(m => m.State + ":" + m.Attempts))}]";
        lock (_violations) // the watch reads them when the worker hangs
        {
            if (_violations.Count < 5)
            {
                _violations.Add(text);
            }
        }
    }

    /// <summary>
    /// The fake clock of the actor's deadlines and attempt timeouts. Once the worker hung, a thread that reads it
    /// (or calls the wire) is parked for good: the runaway loop (the actor reads the clock on nearly every path)
    /// stops spending a core and memory that the sequences and tests after it need.
    /// </summary>
    private sealed class ModelClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private static readonly ManualResetEventSlim Never = new(false);
        private volatile bool _hung;

        public bool Hung { set => _hung = value; }

        public void ParkIfHung()
        {
            if (_hung)
            {
                Never.Wait(); // not a synchronisation: the thread of a hung sequence never runs again
            }
        }

        public override DateTimeOffset GetUtcNow()
        {
            ParkIfHung();
            return base.GetUtcNow();
        }

        public override long GetTimestamp()
        {
            ParkIfHung();
            return base.GetTimestamp();
        }
    }

    /// <summary>One request of the sequence and what became of it.</summary>
    private sealed record ModelRequest(int Id, NetRequest Request, Exchange Ex, Recorder Reply, CancellationTokenSource Cancel,
        RequestFacts Facts)
    {
        public int Outcomes { get; set; }

        public List<string> Kinds { get; } = [];

        public DateTimeOffset OutcomeAt { get; set; }

        public int OutcomeStep { get; set; }

        public bool Judged { get; set; }
    }

    /// <summary>An actor reference that records what is told to it, on the teller's thread.</summary>
    private sealed class Recorder(IActorRefProvider provider, string name) : MinimalActorRef
    {
        private readonly List<object> _messages = [];

        public override ActorPath Path { get; } = provider.TempPath() / name;

        public override IActorRefProvider Provider { get; } = provider;

        public ModelRequest? Owner { get; set; }

        public OriginModel? Model { get; set; }

        /// <summary>Takes the oldest message of type <typeparamref name="T"/>, or null.</summary>
        public T? Take<T>() where T : class
        {
            var index = _messages.FindIndex(m => m is T);
            if (index < 0)
            {
                return null;
            }

            var message = (T)_messages[index];
            _messages.RemoveAt(index);
            return message;
        }

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (Owner is { } owner && message is NetResponse or Status.Failure)
            {
                lock (owner)
                {
                    owner.Outcomes++;
                    owner.Kinds.Add(OriginOracle.KindOf(message));
                    if (owner.Outcomes == 1)
                    {
                        owner.OutcomeAt = Model!._clock.GetUtcNow();
                        owner.OutcomeStep = Model._step;
                    }
                }

                return;
            }

            _messages.Add(message);
        }
    }

    /// <summary>
    /// The client's interceptor: its request hook marks every attempt (and throws for /items/2, a hook's bug);
    /// its response and error hooks are held, each until the sequence lets it return, or throw.
    /// </summary>
    private sealed class ModelHooks(OriginModel model) : NetInterceptor
    {
        private readonly List<HeldHook> _held = [];

        public SemaphoreSlim Arrived { get; } = new(0);

        public bool Holds(NetRequest request)
        {
            lock (_held)
            {
                return _held.Any(h => ReferenceEquals(h.Request, request));
            }
        }

        /// <summary>
        /// Lets the held hook <paramref name="pick"/> return (or, with <paramref name="fail"/>, throw), on this
        /// thread; false when none is held.
        /// </summary>
        public bool Return(int pick, bool fail = false)
        {
            HeldHook hook;
            lock (_held)
            {
                if (_held.Count == 0)
                {
                    return false;
                }

                hook = _held[pick % _held.Count];
                _held.Remove(hook);
            }

            if (!fail)
            {
                hook.Return();
                return true;
            }

            // A request whose outcome is already given (its caller cancelled, its total timeout passed) is not
            // changed by its hook's failure; the oracle looks at this fact only for an outcome given from now on.
            if (model._byRequest.GetValueOrDefault(hook.Request) is { } r)
            {
                r.Facts.HookThrewStep ??= model._step;
            }

            hook.Throw(new InvalidOperationException("a bug in the model's response or error hook"));
            return true;
        }

        public void ReturnAll()
        {
            while (Return(0))
            {
            }
        }

        public override ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context, CancellationToken cancellationToken)
        {
            if (context.Request.Url == "/items/2")
            {
                model.Answered(model._byRequest.GetValueOrDefault(context.Request), WireAnswer.HookFailed);
                throw new InvalidOperationException("a bug in the model's request hook");
            }

            request.Headers.TryAddWithoutValidation(HookHeader, "seen");
            return ValueTask.CompletedTask;
        }

        public override ValueTask OnResponseAsync(NetResponse response, NetInterceptorContext context, CancellationToken cancellationToken) =>
            Hold(context.Request);

        public override ValueTask OnErrorAsync(Exception error, NetInterceptorContext context, CancellationToken cancellationToken) =>
            Hold(context.Request);

        private ValueTask Hold(NetRequest request)
        {
            // The outcome was decided when the hook was entered (the clock stands still until the hook is held).
            if (model._byRequest.GetValueOrDefault(request) is { } r)
            {
                r.Facts.HookEnteredAt ??= model._clock.GetUtcNow();
            }

            return new HeldHook(request, Attached).Task;
        }

        // The hook's caller now awaits it: from here on nothing of it runs until the sequence returns it.
        private void Attached(HeldHook hook)
        {
            lock (_held)
            {
                _held.Add(hook);
            }

            Arrived.Release();
        }

        /// <summary>A hook's result that tells when it is awaited, and resumes its awaiter inline when returned.</summary>
        private sealed class HeldHook(NetRequest request, Action<HeldHook> attached) : System.Threading.Tasks.Sources.IValueTaskSource
        {
            private System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<bool> _core;

            public NetRequest Request { get; } = request;

            public ValueTask Task => new(this, _core.Version);

            public void Return() => _core.SetResult(true);

            public void Throw(Exception error) => _core.SetException(error);

            public void GetResult(short token) => _core.GetResult(token);

            public System.Threading.Tasks.Sources.ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

            public void OnCompleted(Action<object?> continuation, object? state, short token,
                System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags flags)
            {
                _core.OnCompleted(continuation, state, token, flags);
                attached(this);
            }
        }
    }

    /// <summary>
    /// The transport: every call waits until the sequence answers it (or its cancellation token fires, as a real
    /// handler's would). Counts the calls on the wire and the POSTs by model id; <paramref name="limit"/> is the
    /// origin's limit now, <paramref name="of"/> finds the request of a call, <paramref name="answered"/> is told each answer.
    /// </summary>
    private sealed class ScriptedWire(Func<int> limit, Func<string?> held, Func<CancellationToken, ModelRequest?> of,
        Action<ModelRequest?, WireAnswer> answered, Action parkIfHung) : HttpMessageHandler
    {
        private readonly List<WireCall> _calls = [];
        private int _redirects;

        /// <summary>The first call that went on the wire over the limit at its dispatch, described; else null.</summary>
        public string? OverLimit { get; private set; }

        /// <summary>The first call that went on the wire while the origin was paused by a Retry-After or its circuit open, described; else null.</summary>
        public string? DuringPause { get; private set; }

        public int OnWire => _calls.Count;

        /// <summary>The requests whose calls are on the wire (null for a call the model cannot place).</summary>
        public IEnumerable<ModelRequest?> Owners => _calls.Select(c => c.Owner);

        public int MostAtOnce { get; private set; }

        /// <summary>Calls started while an answer of this wire was being delivered: the completing attempt started them.</summary>
        public int HandedOff { get; private set; }

        private bool _answering;

        public int Sent { get; private set; }

        /// <summary>Calls that went on the wire without the request hook's mark.</summary>
        public int WithoutHook { get; private set; }

        /// <summary>POSTs on the wire by model id.</summary>
        public Dictionary<int, int> PostsSent { get; } = [];

        /// <summary>POSTs by model id answered 401 or redirected: the server did not act on them.</summary>
        public Dictionary<int, int> PostsNotActedOn { get; } = [];

        /// <summary>The request of the call <paramref name="pick"/> would answer, or null when none is on the wire.</summary>
        public ModelRequest? Peek(int pick) => _calls.Count == 0 ? null : _calls[pick % _calls.Count].Owner;

        public void Respond(int pick, int kind)
        {
            if (_calls.Count == 0)
            {
                return;
            }

            var call = _calls[pick % _calls.Count];
            _calls.Remove(call);
            call.Registration.Dispose();
            if (kind % 12 == 0)
            {
                answered(call.Owner, WireAnswer.Reset);
                call.Done.TrySetException(new HttpRequestException(HttpRequestError.ConnectionError,
                    "the connection was reset by the model", new IOException("reset")));
                return;
            }

            var status = StatusFor(kind);
            var response = new HttpResponseMessage(status) { Content = new ByteArrayContent("{}"u8.ToArray()), RequestMessage = call.Request };
            if (status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                // From a moment to a decade: the origin must never pause for longer than max-retry-after.
                response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(kind % 3 == 0 ? 315_360_000 : kind % 4));
            }

            if ((int)status is >= 300 and <= 399)
            {
                // Always to the same origin; a 301 or 302 turns a POST into a GET, a 307 or 308 keeps it.
                response.Headers.Location = new Uri("/moved/" + ++_redirects, UriKind.Relative);
            }

            if (status == HttpStatusCode.Unauthorized)
            {
                response.Headers.WwwAuthenticate.Add(new AuthenticationHeaderValue("Bearer"));
            }

            if (call.Request.Method == HttpMethod.Post && call.Owner is { } owner &&
                (status == HttpStatusCode.Unauthorized || (int)status is >= 300 and <= 399))
            {
                PostsNotActedOn[owner.Id] = PostsNotActedOn.GetValueOrDefault(owner.Id) + 1;
            }

            answered(call.Owner, status switch
            {
                HttpStatusCode.OK => WireAnswer.Ok,
                HttpStatusCode.Unauthorized => WireAnswer.Unauthorized,
                HttpStatusCode.TooManyRequests => WireAnswer.TooManyRequests,
                HttpStatusCode.ServiceUnavailable => WireAnswer.Unavailable,
                HttpStatusCode.NotFound => WireAnswer.NotFound,
                _ => WireAnswer.Redirect,
            });

            // The attempt's continuation runs inside this call: a 200 with a request next in line starts it here, on
            // the attempt's thread, after telling the host actor (whose turn also runs inline here, and ends first).
            _answering = status == HttpStatusCode.OK;
            try
            {
                call.Done.TrySetResult(response);
            }
            finally
            {
                _answering = false;
            }
        }

        private static HttpStatusCode StatusFor(int kind) => (kind % 12) switch
        {
            1 or 2 or 3 => HttpStatusCode.OK,
            4 => HttpStatusCode.Unauthorized,
            5 => HttpStatusCode.TooManyRequests,
            6 => HttpStatusCode.ServiceUnavailable,
            8 => HttpStatusCode.MovedPermanently,
            9 => HttpStatusCode.Found,
            10 => HttpStatusCode.TemporaryRedirect,
            11 => HttpStatusCode.PermanentRedirect,
            _ => HttpStatusCode.NotFound,
        };

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            parkIfHung();
            var owner = of(cancellationToken);
            if (owner is not null && request.Method == HttpMethod.Post)
            {
                PostsSent[owner.Id] = PostsSent.GetValueOrDefault(owner.Id) + 1;
            }

            if (!request.Headers.Contains(HookHeader))
            {
                WithoutHook++;
            }

            Sent++;
            if (_answering && Akka.Actor.ActorCell.GetCurrentSelfOrNoSender().IsNobody())
            {
                // Inside an answer but outside the host actor's turn (which runs inline on this test's dispatcher): the
                // completing attempt started it, not the actor's pump.
                HandedOff++;
            }

            var call = new WireCall(request, owner, new TaskCompletionSource<HttpResponseMessage>());
            _calls.Add(call);
            if (held() is { } why && DuringPause is null)
            {
                DuringPause = $"{request.Method} {request.RequestUri?.PathAndQuery} went on the wire while {why}";
            }

            if (_calls.Count > limit() && OverLimit is null)
            {
                OverLimit = $"a call went on the wire with {_calls.Count} on it, over the limit of {limit()} at dispatch";
            }

            MostAtOnce = Math.Max(MostAtOnce, _calls.Count);
            call.Registration = cancellationToken.Register(() =>
            {
                if (_calls.Remove(call))
                {
                    answered(call.Owner, WireAnswer.AttemptCancelled);
                    call.Done.TrySetCanceled(cancellationToken);
                }
            });
            return call.Done.Task;
        }

        private sealed class WireCall(HttpRequestMessage request, ModelRequest? owner, TaskCompletionSource<HttpResponseMessage> done)
        {
            public HttpRequestMessage Request { get; } = request;

            public ModelRequest? Owner { get; } = owner;

            public TaskCompletionSource<HttpResponseMessage> Done { get; } = done;

            public CancellationTokenRegistration Registration { get; set; }
        }
    }
}
