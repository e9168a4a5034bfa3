using Akka.Actor;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>
/// The wire: one attempt of an exchange, run off the actor, its outcome told back to the host actor. An attempt that
/// ends with a plain 2xx starts the request the actor put next in line (<see cref="AdmissionLedger.TakeReady"/>) in
/// the slot it frees.
/// </summary>
internal static class AttemptRunner
{
    /// <summary>
    /// One attempt, off the actor. It never throws: its outcome goes to <paramref name="self"/> as an
    /// <see cref="AttemptCompleted"/> (what <c>PipeTo(Self)</c> would do, without another async layer per request).
    /// </summary>
    public static async Task RunAsync(HttpMessageInvoker http, Exchange ex,
        HttpRequestMessage message, CancellationToken token, IActorRef self, AdmissionLedger ledger)
    {
        HttpResponseMessage? response = null;
        AttemptCompleted done;
        var handedOver = false;
        var plain = false;
        ex.WireStarted();
        try
        {
            if (ex.Hooks.Interceptors.Count > 0)
            {
                await RunRequestInterceptorsAsync(ex, message, token).ConfigureAwait(false);
            }

            response = await http.SendAsync(message, token).ConfigureAwait(false);
            ContentDecoding.Apply(response, message.Method);
            if (ex.Streamed && (int)response.StatusCode is >= 200 and <= 299 && HasBody(response, message.Method))
            {
                if (await TryHandOverStreamAsync(ex, message, response, token, self).ConfigureAwait(false))
                {
                    handedOver = true;
                    return; // the stream owns the response and the message now, and tells the host when it ends
                }

                // Its caller went away before it had the headers: an attempt whose outcome is nobody's.
                done = new AttemptCompleted(ex, response, default, null);
            }
            else
            {
                var body = ex.Request.Download is { } download && response.IsSuccessStatusCode
                    ? await BodyReader.WriteToFileAsync(response.Content, download, ex.Attempts, token).ConfigureAwait(false)
                    : await BodyReader.ReadAsync(response.Content, ex.Client.MaxResponseSize, token).ConfigureAwait(false);

                if (ex.Span is not null)
                {
                    Telemetry.NetActivity.Attempt(ex, response, null); // telemetry: the attempt's event, before any outcome
                }

                ex.WireDone(); // read to the end: the connection is free for the next request
                plain = IsPlainSuccess(ex, response);
                // Built before the claim: once claimed, nothing may throw before the caller has it.
                var built = plain ? ex.ResponseOf(response, body) : null;
                var delivered = built is not null && ex.TryClaim() ? built : null;
                done = new AttemptCompleted(ex, response, body, null, delivered);
            }
        }
        catch (Exception e)
        {
            ex.WireDone();
            if (ex.Span is not null)
            {
                Telemetry.NetActivity.Attempt(ex, response, e); // telemetry: the failed attempt's event
            }

            plain = false;
            done = new AttemptCompleted(ex, response, default, e);
        }
        finally
        {
            // The body is read (or abandoned): disposing releases the connection to the pool, or closes it. A streamed
            // body handed to its caller is disposed by its stream.
            if (!handedOver)
            {
                response?.Dispose();
                message.Dispose();
            }
        }

        // A plain 2xx leaves nothing for the actor to decide before the next request may start: this attempt hands
        // its slot to the one next in line, if the actor put one there, and starts it here, without waiting for the
        // actor's turn on the thread pool. (Not on an error or another status: a retry, pause, refresh or the circuit
        // is the actor's decision first. Not deeper than a few attempts that completed synchronously on one stack.)
        try
        {
            if (plain && TakeNext(ledger) is { } next)
            {
                HandOff(http, done, next, self, ledger); // a record more only when a slot is handed on
            }
            else
            {
                Report(self, ledger, done);
            }
        }
        finally
        {
            if (done.Delivered is { } result)
            {
                ex.CompleteClaimed(result); // after the Tell: the caller's next request may run right here
            }
        }
    }

    /// <summary>
    /// True for a report whose handling can change what the next request may do: a failure (the circuit; also the
    /// caller's own cancellation, which changes nothing but is not told apart here), a 401 (a refresh), a 408, 429
    /// or 5xx (the circuit, a pause), a redirect. Until the actor handled it, no completion hands its slot on
    /// (<see cref="AdmissionLedger.HoldHandOffs"/>). A 2xx, a 304 or another 4xx changes nothing for the requests
    /// behind it. It reads only what a report cannot change after it was sent, so the attempt that holds and the
    /// actor that releases always agree.
    /// </summary>
    internal static bool HoldsHandOffs(AttemptCompleted done) =>
        done.Error is not null ||
        (done.Response is { } response && (int)response.StatusCode is 401 or 408 or 429 or >= 500 or (>= 300 and <= 399 and not 304));

    /// <summary>Tells the actor of an attempt's end; one that can change what the next request may do holds the hand-offs until it is handled.</summary>
    private static void Report(IActorRef self, AdmissionLedger ledger, AttemptCompleted done)
    {
        if (HoldsHandOffs(done))
        {
            ledger.HoldHandOffs(); // the actor releases once it has handled this report (it asks the same rule)
        }

        self.Tell(done, ActorRefs.NoSender);
    }

    private const int MaxHandOffDepth = 4;

    /// <summary>
    /// The request next in line, claimed for the slot a plain 2xx frees, or null: none is ready, a report the actor
    /// must decide on is pending, or this thread is already a few hand-offs deep in attempts that completed at once.
    /// </summary>
    private static Exchange? TakeNext(AdmissionLedger ledger) =>
        ledger.ReadyCount > 0 && _handOffDepth < MaxHandOffDepth && !ledger.HandOffsHeld ? ledger.TakeReady() : null;

    [ThreadStatic]
    private static int _handOffDepth;

    /// <summary>
    /// Reports <paramref name="done"/> with the slot handed to <paramref name="next"/> (the actor takes it into its
    /// in-flight set in that same message), then starts it. One whose caller left while it was next in line, or
    /// whose attempt cannot be armed, is reported back without going on the wire.
    /// </summary>
    private static void HandOff(HttpMessageInvoker http, AttemptCompleted done, Exchange next, IActorRef self, AdmissionLedger ledger)
    {
        // Only the exchange's own flags are read here: its followers' list is the actor's. One whose caller left goes
        // back unsent; the actor puts it back at the head of the line if followers still want its call.
        Exception? unarmed = null;
        var callerLeft = next.IsCompleted;
        if (callerLeft)
        {
            unarmed = new OperationCanceledException("The request's outcome was decided before it went on the wire.");
        }
        else
        {
            try
            {
                next.ArmTaken();
            }
            catch (Exception e)
            {
                unarmed = e;
            }
        }

        var message = next.TakeReadyMessage()!;
        var token = unarmed is null ? next.Token : default; // read before the actor hears of it
        AttemptCompleted? back = unarmed is null ? null
            : callerLeft ? new TakenNotSent(next, unarmed) : new AttemptCompleted(next, null, default, unarmed);
        if (back is not null)
        {
            // Held before the actor hears of the hand-off (a failure holds: the actor releases it with this report):
            // once next counts as on the wire, the actor makes the request behind it ready, and no completion may start
            // that one before the actor has put a leader sent back to the head of the line.
            ledger.HoldHandOffs();
        }

        // The actor takes next into its in-flight set as it takes done out; it counts next's attempt only if it starts.
        self.Tell(new SlotHandedOn(done, next, Started: back is null), ActorRefs.NoSender);
        if (back is not null)
        {
            message.Dispose();
            self.Tell(back, ActorRefs.NoSender);
            return;
        }

        _handOffDepth++;
        try
        {
            _ = RunAsync(http, next, message, token, self, ledger);
        }
        finally
        {
            _handOffDepth--;
        }
    }

    /// <summary>
    /// False for a response that has no body to stream (HEAD, 204, 205, <c>Content-Length: 0</c>): it is read like a
    /// buffered one, so its slot is free when its caller gets it, not when the caller disposes it.
    /// </summary>
    private static bool HasBody(HttpResponseMessage response, HttpMethod method) =>
        method != HttpMethod.Head && response.StatusCode is not (System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.ResetContent) &&
        response.Content.Headers.ContentLength is not 0;

    /// <summary>
    /// Hands a streamed 2xx to its caller with its body still on the wire (see <see cref="StreamedBody"/>): the host
    /// hears of it first, then the stream watches the attempt's token (now bounded by the total timeout), then the
    /// caller gets it. False when the caller already has an outcome (it cancelled): nothing was handed over. A body
    /// declared longer than the request's stream limit fails here, before the caller has anything, as a buffered
    /// one does.
    /// </summary>
    private static async ValueTask<bool> TryHandOverStreamAsync(Exchange ex, HttpRequestMessage message,
        HttpResponseMessage response, CancellationToken token, IActorRef self)
    {
        if (ex.Request.MaxStreamedBytes is { } limit && response.Content.Headers.ContentLength is { } declared && declared > limit)
        {
            throw new BodyTooLargeException(limit, declared);
        }

        var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        if (ex.Span is not null)
        {
            Telemetry.NetActivity.Attempt(ex, response, null); // telemetry: the attempt's event, when its headers arrived
        }

        if (!ex.TryClaimStream())
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            return false;
        }

        ex.ExtendAttemptToTotal();
        var body = new StreamedBody(ex, message, response, stream, self);
        var result = ex.ResponseOf(response, default);
        result.Stream = body;
        self.Tell(new StreamStarted(ex, response, result), ActorRefs.NoSender);
        body.Arm(token);
        ex.CompleteClaimed(result);
        return true;
    }

    /// <summary>
    /// A plain success needs no decision of the actor (no retry, redirect, token refresh or hook), so the attempt
    /// hands it to the caller from its own thread, as a bare HttpClient would, one hop sooner; the actor still does
    /// all the bookkeeping (slot, circuit, dedup followers, metrics, log) when the attempt's message arrives.
    /// Anything that must happen on the actor before a caller sees a 2xx has to exclude the exchange here.
    /// </summary>
    public static bool IsPlainSuccess(Exchange ex, HttpResponseMessage response) =>
        (int)response.StatusCode is >= 200 and <= 299 && ex.Hooks.Interceptors.Count == 0;

    /// <summary>The OnRequest hooks, in order (their own method, so an attempt without them carries none of their state).</summary>
    private static async Task RunRequestInterceptorsAsync(Exchange ex, HttpRequestMessage message, CancellationToken token)
    {
        foreach (var interceptor in ex.Hooks.Interceptors)
        {
            try
            {
                // Bounded by the attempt's token: a hook that ignores it cannot keep the request (and its slot) for
                // ever; the attempt ends at its deadline and the caller gets its outcome.
                await interceptor.OnRequestAsync(message, new NetInterceptorContext(ex.Request, ex.Attempts), token)
                    .AsTask().WaitAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (token.IsCancellationRequested)
            {
                throw new InterceptorStalled(interceptor.Name, e); // the actor tells its caller's cancellation apart
            }
            catch (Exception e)
            {
                throw new InterceptorFailure(interceptor.Name, e);
            }
        }
    }
}
