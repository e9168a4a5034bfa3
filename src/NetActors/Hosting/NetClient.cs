using Akka.Actor;
using Akka.Hosting;
using NetActors.Hosts;
using NetActors.Gateway;

namespace NetActors.Hosting;

/// <summary>
/// The <see cref="INetClient"/> implementation: it hands each request with a completion attached (no <c>Ask</c>
/// and no temporary actor per request) to the host actor of its origin when a client declares that origin, or
/// else to the gateway, and returns that completion's task.
/// </summary>
internal sealed class NetClient(IRequiredActor<NetGateway> gateway, ActorSystem system, NetActorsRuntime runtime)
    : INetClient
{
    private static readonly TimeSpan DefaultTotalTimeout = Configuration.ReferenceDefaults.Duration("client-defaults.total-timeout");

    private readonly CoordinatedShutdown _shutdown = CoordinatedShutdown.Get(system);
    private IActorRef? _gateway;

    public Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken = default) =>
        Send(request, streamed: false, cancellationToken);

    public ValueTask<NetOutcome> TrySendAsync(NetRequest request, CancellationToken cancellationToken = default) =>
        TrySend(request, streamed: false, cancellationToken, out var answered) is { } task
            ? NetOutcome.OfAsync(task)
            : new ValueTask<NetOutcome>(new NetOutcome(answered!));

    public async Task<NetStreamedResponse> SendStreamAsync(NetRequest request, CancellationToken cancellationToken = default)
    {
        var streamed = new NetStreamedResponse(await Send(request, streamed: true, cancellationToken).ConfigureAwait(false));
        if (cancellationToken.IsCancellationRequested)
        {
            // Cancelled while the headers were handed over: its body is aborted anyway, so the caller gets what a
            // cancelled caller gets, and the slot is freed now.
            await streamed.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return streamed;
    }

    /// <summary>
    /// Hands the request to its origin's host actor (or the gateway) and returns its outcome; a
    /// <paramref name="streamed"/> request's 2xx comes with its body still on the wire (<see cref="NetResponse.Stream"/>).
    /// </summary>
    private Task<NetResponse> Send(NetRequest request, bool streamed, CancellationToken cancellationToken) =>
        TrySend(request, streamed, cancellationToken, out var answered) ?? Task.FromException<NetResponse>(answered!);

    /// <summary>
    /// <see cref="Send"/>, but an error answered before the request reached an actor (shutdown, an invalid request,
    /// a full origin) comes back in <paramref name="answered"/> with a null task, never thrown or wrapped in one.
    /// </summary>
    private Task<NetResponse>? TrySend(NetRequest request, bool streamed, CancellationToken cancellationToken,
        out Errors.NetException? answered)
    {
        answered = null;
        ArgumentNullException.ThrowIfNull(request);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<NetResponse>(cancellationToken);
        }

        if (_shutdown.ShutdownReason is not null || runtime.IsDisposed)
        {
            // Once shutdown has begun no request is accepted; answering here means none can be lost with the system.
            answered = new Errors.NetShutdownException(
                new Errors.NetRequestInfo(request.Client, request.Method?.Method ?? "(none)", RedactionSettings.Default.Url(request.Url ?? string.Empty), 0));
            return null;
        }

        var target = _gateway;
        if (target is null)
        {
            return SendWhenStartedAsync(request, streamed, cancellationToken).Unwrap();
        }

        var router = runtime.Router;
        if (router is null)
        {
            // The gateway has not started yet: it takes the request once it has (in order).
            var early = Exchange.ForTask(request, cancellationToken);
            early.Streamed = streamed;
            early.Span = Telemetry.NetActivity.Begin(request.Method, System.Diagnostics.Activity.Current); // telemetry: the caller's trace
            early.CountedInGateway = true;
            runtime.EnteringGateway();
            target.Tell(early, ActorRefs.NoSender);
            return early.Task;
        }

        var exchange = Exchange.ForTask(request, cancellationToken);
        exchange.Streamed = streamed;
        if (router.Resolve(exchange) is { } problem)
        {
            // Answered before SendAsync returns: nothing of it reached an actor.
            answered = new Errors.InvalidRequestException(exchange.Info(), problem);
            return null;
        }

        if (exchange.Content is { WaitsForClient: true } &&
            RequestMessageBuilder.SerializeBody(exchange, runtime.JsonFor(exchange.Client)) is { } bodyProblem)
        {
            answered = new Errors.InvalidRequestException(exchange.Info(), bodyProblem);
            return null;
        }

        exchange.Span = Telemetry.NetActivity.Begin(request.Method, System.Diagnostics.Activity.Current); // telemetry: the caller's trace

        // The gateway would only pass it on: a declared origin's host actor takes it directly, unless an earlier
        // request is still in the gateway's mailbox (it could be overtaken).
        if (runtime.GatewayIdle && router.DeclaredHost(exchange.OriginKey) is { } host)
        {
            if (!host.Ledger.TryEnter(exchange))
            {
                // The origin holds all it may: answered here, at once, not behind the host actor's mailbox.
                var overloaded = new Errors.OverloadedException(exchange.Info(), exchange.OriginKey, host.Ledger.QueueCapacity);
                if (exchange.Span is not null)
                {
                    Telemetry.NetActivity.End(exchange, null, overloaded); // telemetry: the span ends with this outcome
                }

                answered = overloaded;
                return null;
            }

            host.Actor.Tell(exchange, ActorRefs.NoSender);
        }
        else
        {
            exchange.CountedInGateway = true;
            runtime.EnteringGateway();
            target.Tell(exchange, ActorRefs.NoSender);
        }

        return exchange.Task;
    }

    public async Task<long> SignInAsync(string realm, TokenSet tokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ThrowIfShutDown();
        var signedIn = await AskGatewayAsync<Auth.SignedIn>(new Auth.SignIn(realm, tokens), cancellationToken).ConfigureAwait(false);
        return signedIn.Version;
    }

    public async Task TerminateSessionAsync(string realm, CancellationToken cancellationToken = default)
    {
        ThrowIfShutDown();
        await AskGatewayAsync<Auth.SessionTerminated>(new Auth.TerminateSession(realm, "the session was terminated"),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A session call, bounded (as a request is, by the reference total timeout): the wait for the runtime to start
    /// and the answer together, so a start that fails or a realm's actor that is gone never leaves it waiting.
    /// </summary>
    private async Task<T> AskGatewayAsync<T>(object message, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var gateway = await GatewayAsync(cancellationToken).AsTask().WaitAsync(DefaultTotalTimeout, cancellationToken).ConfigureAwait(false);
            var left = DefaultTotalTimeout - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            return await gateway.Ask<T>(message, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or AskTimeoutException)
        {
            throw new Errors.NetTimeoutException(null, DefaultTotalTimeout, Errors.TimeoutKind.Total, e);
        }
    }

    /// <summary>
    /// A session call after shutdown began is refused here (the gateway may be gone; an Ask of it would wait for
    /// ever). One that races the gateway's stop is answered by the <see cref="OrphanWatcher"/>.
    /// </summary>
    private void ThrowIfShutDown()
    {
        if (_shutdown.ShutdownReason is not null || runtime.IsDisposed)
        {
            throw new Errors.NetShutdownException(null);
        }
    }

    private async ValueTask<IActorRef> GatewayAsync(CancellationToken cancellationToken) =>
        _gateway ??= await gateway.GetAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The first request of this facade waits for the gateway, then goes as any other. Its outcome is the inner task,
    /// handed on by <see cref="TaskExtensions.Unwrap{TResult}(Task{Task{TResult}})"/>: an error answered at once is
    /// never thrown on the way (as <see cref="INetClient.TrySendAsync"/> promises).
    /// </summary>
    private async Task<Task<NetResponse>> SendWhenStartedAsync(NetRequest request, bool streamed, CancellationToken cancellationToken)
    {
        // The wait is bounded by its total timeout: a runtime that never starts (its start failed, or a hosted
        // service that starts before it waits for this request) does not leave it without an outcome. Before the
        // runtime has read its settings, a request without a (valid) timeout of its own gets the reference default;
        // an invalid one is answered typed once it reaches the router.
        var wait = request.Timeout is { } own && own > TimeSpan.Zero && own <= NetRequest.MaxTimeout ? own : DefaultTotalTimeout;
        try
        {
            await GatewayAsync(cancellationToken).AsTask().WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var info = new Errors.NetRequestInfo(request.Client, request.Method?.Method ?? "(none)",
                RedactionSettings.Default.Url(request.Url ?? string.Empty), 0);
            return Task.FromException<NetResponse>(new Errors.NetTimeoutException(info, wait, Errors.TimeoutKind.Total));
        }

        return Send(request, streamed, cancellationToken);
    }
}
