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
    Shutdown,
}

/// <summary>One step of a generated sequence.</summary>
public readonly record struct OriginStep(OriginEvent Event, int A, int B)
{
    public override string ToString() => $"{Event}({A},{B})";
}

/// <summary>The origin's shape for one sequence.</summary>
public readonly record struct OriginShape(int MaxConnections, int QueueCapacity, bool Auth, bool Dedup,
    AdaptiveAlgorithm? Adaptive = null)
{
    public override string ToString() =>
        $"max-connections {MaxConnections}, queue-capacity {QueueCapacity}, auth {Auth}, dedup {Dedup}, " +
        $"adaptive {(Adaptive is { } a ? a.ToString() : "off")}";
}

/// <summary>
/// Runs one generated sequence of events against a real <see cref="HostActor"/>, with a fake clock
/// (<see cref="FakeTimeProvider"/> for the actor's deadlines and attempt timeouts, Akka's
/// <see cref="TestScheduler"/> for its timers, moved together), a scripted transport that holds every call until
/// the sequence answers it, and a scripted token actor. Everything runs on the calling thread, so a sequence is
/// deterministic and replays from its seed. After every step it checks the origin's promises:
/// at most max-connections calls on the wire at any moment, and with an adaptive limit, when a call goes on the
/// wire, at most the limit at that moment (min(max-connections, limit)); at most max-connections + queue-capacity requests
/// held; at most one outcome per request, and none missing past its total timeout (plus a small tolerance); no
/// POST without an idempotency key sent twice; and, at the end, once time has run past every deadline, every
/// request exactly one outcome, every slot free and the ledger empty.
/// </summary>
internal sealed class OriginModel
{
    private const string Origin = "http://model.test:80";
    private const string Realm = "model-realm";
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Chunk = TimeSpan.FromMilliseconds(25);

    private readonly ActorSystem _system;
    private readonly TestScheduler _scheduler;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly OriginShape _shape;
    private readonly ClientSettings _client;
    private readonly AdmissionLedger _ledger;
    private readonly ScriptedWire _wire;
    private readonly Recorder _gateway;
    private readonly Recorder _tokens;
    private readonly IActorRef _host;
    private readonly List<ModelRequest> _requests = [];
    private readonly List<string> _violations = [];
    private long _tokenVersion;
    private bool _shutdown;

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
            Deduplicate = shape.Dedup,
            AuthRealm = shape.Auth ? Realm : null,
            Retry = new RetrySettings { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(1) },
            CircuitBreaker = new CircuitBreakerSettings { MinimumThroughput = 4, BreakDuration = TimeSpan.FromSeconds(1) },
        };
        // The adaptive limit on short windows of few samples, so that a sequence moves it up and down (and probes).
        var limit = shape.Adaptive is { } algorithm
            ? AdaptiveLimit.Create(new AdaptiveConcurrencySettings
            {
                Enabled = true, Algorithm = algorithm, MinLimit = 1, Window = TimeSpan.FromMilliseconds(100),
                MinWindowSamples = 1, BaselineProbeInterval = TimeSpan.FromSeconds(1), QueueAllowance = 1, Smoothing = 1,
            }, shape.MaxConnections, _clock)
            : null;
        _ledger = new AdmissionLedger(shape.MaxConnections, shape.QueueCapacity, _clock, _client.CircuitBreaker, limit);
        _wire = new ScriptedWire(() => _ledger.SlotLimit);
        var provider = ((ExtendedActorSystem)system).Provider;
        _gateway = new Recorder(provider, "gateway");
        _tokens = new Recorder(provider, "tokens");
        var realms = new Dictionary<string, RealmRoute>
        {
            [Realm] = new(new RealmSettings { Name = Realm, Origins = new HashSet<string> { Origin } }, _tokens),
        };
        var random = new Random(seed);
        var context = new HostContext(_gateway, realms, _clock, new NetMetrics(), new RequestLog(NullLogger.Instance),
            new NetActors.Caching.CacheRegistry(), _ => NetJson.Default, (_, _) => new HttpMessageInvoker(_wire), () => 1,
            random.NextDouble);
        _host = system.ActorOf(HostActor.Props(context, Origin, _client, _ledger));
    }

    /// <summary>Runs the steps, checking after each; then runs the clock out and checks quiescence.</summary>
    public IReadOnlyList<string> Run(IReadOnlyList<OriginStep> steps)
    {
        // Without a synchronization context an attempt's continuation runs inline, on this thread, when the
        // sequence answers its call: every step, and all it sets off, is over when the step returns.
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            for (var i = 0; i < steps.Count && _violations.Count == 0; i++)
            {
                Apply(steps[i]);
                Check($"after step {i + 1} ({steps[i]})");
                Trace($"{i + 1} {steps[i]}");
            }

            if (_violations.Count == 0)
            {
                Quiesce();
            }
        }
        finally
        {
            _system.Stop(_host);
            SynchronizationContext.SetSynchronizationContext(context);
        }

        return _violations;
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
            case OriginEvent.Cancel:
                var live = _requests.Where(r => r.Outcomes == 0).ToList();
                if (live.Count > 0)
                {
                    live[step.A % live.Count].Cancel.Cancel();
                }

                break;
            case OriginEvent.Respond:
                _wire.Respond(step.A, step.B);
                break;
            case OriginEvent.Advance:
                Advance(TimeSpan.FromMilliseconds(1 + step.A % 2000));
                break;
            case OriginEvent.GrantToken:
                if (_tokens.Take<GetToken>() is { } ask)
                {
                    _host.Tell(new TokenGranted(Realm, "token-" + ++_tokenVersion, Math.Max(ask.StaleVersion + 1, _tokenVersion),
                        step.B % 2 == 0 ? null : _clock.GetUtcNow() + TimeSpan.FromMilliseconds(500 + step.B)));
                }

                break;
            case OriginEvent.DenyToken:
                if (_tokens.Take<GetToken>() is not null)
                {
                    _host.Tell(new TokenDenied(Realm, step.A % 2 == 0 ? TokenDenial.SessionExpired : TokenDenial.Failed, "denied by the model"));
                }

                break;
            case OriginEvent.Crash:
                _host.Tell(new InjectFault("crash injected by the model"));
                break;
            case OriginEvent.Shutdown:
                if (!_shutdown)
                {
                    _shutdown = true;
                    _host.Tell(Drain.Instance, _gateway);
                }

                break;
        }
    }

    private void Admit(NetRequest request, bool postWithoutKey, int timeoutPick)
    {
        var id = _requests.Count + 1;
        if (request.Method == HttpMethod.Post)
        {
            request = request.WithHeader("X-Model-Id", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

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
        var model = new ModelRequest(id, request, reply, cancel, _clock.GetUtcNow(), timeout, postWithoutKey);
        _requests.Add(model);
        reply.Owner = model;
        reply.Clock = _clock;

        // What the facade does: count it at the edge, or answer it there.
        if (!_ledger.TryEnter(ex))
        {
            reply.Tell(new Status.Failure(new OverloadedException(ex.Info(), Origin, _shape.QueueCapacity)), ActorRefs.NoSender);
            return;
        }

        _host.Tell(ex);
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
            Check("while time passed");
            if (_violations.Count > 0)
            {
                return;
            }
        }
    }

    private void Check(string when)
    {
        var now = _clock.GetUtcNow();
        if (_wire.MostAtOnce > _shape.MaxConnections)
        {
            Violation($"{when}: {_wire.MostAtOnce} calls on the wire at once, over max-connections {_shape.MaxConnections}");
        }

        if (_wire.OverLimit is { } over)
        {
            Violation($"{when}: {over}");
        }

        if (_ledger.Limit is { } limit && (limit.Current < 1 || limit.Current > _shape.MaxConnections))
        {
            Violation($"{when}: the adaptive limit is {limit.Current}, outside [1, max-connections {_shape.MaxConnections}]");
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
                Violation($"{when}: request {r.Id} got {r.Outcomes} outcomes");
            }
            else if (r.Outcomes == 0 && now - r.AdmittedAt > r.Timeout + Tolerance)
            {
                Violation($"{when}: request {r.Id} ({r.Request.Method} {r.Request.Url}) has no outcome {(now - r.AdmittedAt).TotalMilliseconds:0} ms after admission, past its total timeout of {r.Timeout.TotalMilliseconds:0} ms");
            }
            else if (r.Outcomes == 1 && r.OutcomeAt - r.AdmittedAt > r.Timeout + Tolerance)
            {
                Violation($"{when}: request {r.Id} got its outcome {(r.OutcomeAt - r.AdmittedAt).TotalMilliseconds:0} ms after admission, past its total timeout");
            }
        }

        foreach (var (id, sent) in _wire.PostsSent)
        {
            // A 401 says the server did not act on the request (it was not authenticated), so the one resend
            // with a fresh token is not a second delivery; any other answer, or none, may have been acted on.
            var unprocessed = _wire.PostsRefused.GetValueOrDefault(id);
            if (sent - unprocessed > 1 && _requests[id - 1].PostWithoutKey)
            {
                Violation($"{when}: POST {id} without an idempotency key went on the wire {sent} times ({unprocessed} refused with 401)");
            }
        }
    }

    /// <summary>Runs the clock past every deadline, answering nothing more (calls on the wire hang), then checks that nothing is left.</summary>
    private void Quiesce()
    {
        Advance(_client.TotalTimeout + TimeSpan.FromSeconds(1));
        if (_violations.Count > 0)
        {
            return;
        }

        foreach (var r in _requests.Where(r => r.Outcomes != 1))
        {
            Violation($"at quiescence: request {r.Id} has {r.Outcomes} outcomes");
        }

        if (_wire.OnWire != 0 || _ledger.InFlight.Count != 0)
        {
            Violation($"at quiescence: {_wire.OnWire} calls still on the wire, {_ledger.InFlight.Count} slots taken");
        }

        if (_ledger.Members.Count != 0 || !_ledger.IsEmpty)
        {
            Violation($"at quiescence: the ledger still holds {_ledger.Members.Count} requests (admitted {_ledger.Admitted})");
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
            $"outcomes [{string.Join(" ", _requests.Select(r => $"{r.Id}:{r.Outcomes}"))}]");
    }

    private void Violation(string text)
    {
        if (_violations.Count < 5)
        {
            _violations.Add(text + $" [wire {_wire.OnWire}, sent {_wire.Sent}, in flight {_ledger.InFlight.Count}, held {_ledger.Members.Count}, states {string.Join("/", _ledger.Members.Select(m => m.State + ":" + m.Attempts))}]");
        }
    }

    /// <summary>One request of the sequence and what became of it.</summary>
    private sealed record ModelRequest(int Id, NetRequest Request, Recorder Reply, CancellationTokenSource Cancel,
        DateTimeOffset AdmittedAt, TimeSpan Timeout, bool PostWithoutKey)
    {
        public int Outcomes { get; set; }

        public DateTimeOffset OutcomeAt { get; set; }
    }

    /// <summary>An actor reference that records what is told to it, on the teller's thread.</summary>
    private sealed class Recorder(IActorRefProvider provider, string name) : MinimalActorRef
    {
        private readonly List<object> _messages = [];

        public override ActorPath Path { get; } = provider.TempPath() / name;

        public override IActorRefProvider Provider { get; } = provider;

        public ModelRequest? Owner { get; set; }

        public TimeProvider? Clock { get; set; }

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
                owner.Outcomes++;
                owner.OutcomeAt = Clock!.GetUtcNow();
                return;
            }

            _messages.Add(message);
        }
    }

    /// <summary>
    /// The transport: every call waits until the sequence answers it (or its cancellation token fires, as a real
    /// handler's would). Counts the calls on the wire and the POSTs by model id.
    /// </summary>
    /// <summary>The wire: holds every call until the sequence answers it; <paramref name="limit"/> is the origin's limit now.</summary>
    private sealed class ScriptedWire(Func<int> limit) : HttpMessageHandler
    {
        private readonly List<WireCall> _calls = [];

        /// <summary>The first call that went on the wire over the limit at its dispatch, described; else null.</summary>
        public string? OverLimit { get; private set; }

        public int OnWire => _calls.Count;

        public int MostAtOnce { get; private set; }

        public int Sent { get; private set; }

        public Dictionary<int, int> PostsSent { get; } = [];

        /// <summary>POSTs by model id answered 401: refused before the server acted on them.</summary>
        public Dictionary<int, int> PostsRefused { get; } = [];

        public void Respond(int pick, int kind)
        {
            if (_calls.Count == 0)
            {
                return;
            }

            var call = _calls[pick % _calls.Count];
            _calls.Remove(call);
            call.Registration.Dispose();
            if (kind % 8 == 0)
            {
                call.Done.TrySetException(new HttpRequestException(HttpRequestError.ConnectionError,
                    "the connection was reset by the model", new IOException("reset")));
                return;
            }

            var response = new HttpResponseMessage(StatusFor(kind)) { Content = new ByteArrayContent("{}"u8.ToArray()), RequestMessage = call.Request };
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                // From a moment to a decade: the origin must never pause for longer than max-retry-after.
                response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(kind % 3 == 0 ? 315_360_000 : kind % 4));
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                response.Headers.WwwAuthenticate.Add(new AuthenticationHeaderValue("Bearer"));
                if (ModelId(call.Request) is { } refused)
                {
                    PostsRefused[refused] = PostsRefused.GetValueOrDefault(refused) + 1;
                }
            }

            call.Done.TrySetResult(response);
        }

        private static int? ModelId(HttpRequestMessage request) =>
            request.Headers.TryGetValues("X-Model-Id", out var ids) &&
            int.TryParse(ids.First(), System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;

        private static HttpStatusCode StatusFor(int kind) => (kind % 8) switch
        {
            1 or 2 or 3 => HttpStatusCode.OK,
            4 => HttpStatusCode.Unauthorized,
            5 => HttpStatusCode.TooManyRequests,
            6 => HttpStatusCode.ServiceUnavailable,
            _ => HttpStatusCode.NotFound,
        };

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (ModelId(request) is { } id)
            {
                PostsSent[id] = PostsSent.GetValueOrDefault(id) + 1;
            }

            Sent++;
            var call = new WireCall(request, new TaskCompletionSource<HttpResponseMessage>());
            _calls.Add(call);
            if (_calls.Count > limit() && OverLimit is null)
            {
                OverLimit = $"a call went on the wire with {_calls.Count} on it, over the limit of {limit()} at dispatch";
            }

            MostAtOnce = Math.Max(MostAtOnce, _calls.Count);
            call.Registration = cancellationToken.Register(() =>
            {
                if (_calls.Remove(call))
                {
                    call.Done.TrySetCanceled(cancellationToken);
                }
            });
            return call.Done.Task;
        }

        private sealed class WireCall(HttpRequestMessage request, TaskCompletionSource<HttpResponseMessage> done)
        {
            public HttpRequestMessage Request { get; } = request;

            public TaskCompletionSource<HttpResponseMessage> Done { get; } = done;

            public CancellationTokenRegistration Registration { get; set; }
        }
    }
}
