using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Telemetry;

namespace NetActors.Hosts;

/// <summary>
/// Owns one origin's connection budget. At most <c>max-connections</c> requests are on the wire at once; the
/// rest wait in this actor's own bounded FIFO queue, and a request beyond <c>queue-capacity</c> fails at once
/// with <see cref="OverloadedException"/> (never a silent drop). Priority requests (token refreshes) take the
/// next free slot ahead of the queue. HTTP calls run asynchronously and return through <c>PipeTo</c>.
/// </summary>
internal sealed class HostActor : ReceiveActor
{
    private readonly HostContext _context;
    private readonly string _origin;
    private readonly int _maxConnections;
    private readonly int _queueCapacity;
    private readonly HttpClient _http;
    private readonly LinkedList<Exchange> _queue = new();
    private readonly LinkedList<Exchange> _priority = new();
    private readonly HashSet<Exchange> _inFlight = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, RealmCache> _realms = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private HostActor(HostContext context, string origin, ClientSettings connection)
    {
        _context = context;
        _origin = origin;
        _maxConnections = connection.MaxConnections;
        _queueCapacity = connection.QueueCapacity;
        _http = context.Runtime.CreateHttpClient(origin, connection);

        Receive<Exchange>(Admit);
        Receive<AttemptCompleted>(OnAttemptCompleted);
        Receive<ExchangeDeadline>(d => OnDeadline(d.Exchange));
        Receive<Auth.TokenGranted>(OnTokenGranted);
        Receive<Auth.TokenDenied>(OnTokenDenied);
    }

    /// <summary>Props for the host of <paramref name="origin"/>.</summary>
    public static Props Props(HostContext context, string origin, ClientSettings connection) =>
        Hosting.ActorProps.Of(() => new HostActor(context, origin, connection));

    /// <summary>Requests on the wire now (for tests and metrics).</summary>
    internal int InFlightCount => _inFlight.Count;

    private void Admit(Exchange ex)
    {
        if (ex.IsCompleted)
        {
            ex.Release();
            return;
        }

        ex.Owner = Self;
        if (ex.State == ExchangeState.New)
        {
            ex.Begin(ex.Request.Timeout ?? ex.Client.TotalTimeout);
            var problem = Prepare(ex);
            if (problem is not null)
            {
                Finish(ex, new InvalidRequestException(ex.Info(), problem));
                return;
            }
        }

        Enqueue(ex, front: false);
        Pump();
    }

    /// <summary>Resolves a relative URL and checks headers. Null when fine, else what is wrong.</summary>
    private static string? Prepare(Exchange ex)
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

        foreach (var (name, value) in ex.Request.Headers)
        {
            var problem = HeaderRules.Check(name, value);
            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

    private void Enqueue(Exchange ex, bool front)
    {
        if (ex.Priority)
        {
            ex.State = ExchangeState.Queued;
            ex.QueueNode = front ? _priority.AddFirst(ex) : _priority.AddLast(ex);
            return;
        }

        if (!front && _queue.Count >= _queueCapacity && _inFlight.Count >= _maxConnections)
        {
            Finish(ex, new OverloadedException(ex.Info(), _origin, _queueCapacity));
            return;
        }

        ex.State = ExchangeState.Queued;
        ex.ArmTotal();
        ex.QueueNode = front ? _queue.AddFirst(ex) : _queue.AddLast(ex);
    }

    /// <summary>Starts queued exchanges while slots are free: priority ones first, then FIFO.</summary>
    private void Pump()
    {
        while (_inFlight.Count < _maxConnections)
        {
            var next = Dequeue(_priority) ?? Dequeue(_queue);
            if (next is null)
            {
                return;
            }

            if (Authorize(next))
            {
                Dispatch(next);
            }
        }
    }

    private static Exchange? Dequeue(LinkedList<Exchange> list)
    {
        while (list.First is { } node)
        {
            list.RemoveFirst();
            var ex = node.Value;
            ex.QueueNode = null;
            if (!ex.IsCompleted)
            {
                return ex;
            }

            ex.Release();
        }

        return null;
    }

    private void Dispatch(Exchange ex)
    {
        HttpRequestMessage message;
        try
        {
            message = BuildMessage(ex);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            Finish(ex, new InvalidRequestException(ex.Info(), e.Message));
            return;
        }

        ex.State = ExchangeState.InFlight;
        ex.Attempts++;
        _inFlight.Add(ex);
        ex.ArmAttempt(ex.Client.ResponseTimeout);
        RunAttemptAsync(_http, ex, message, ex.Client.MaxResponseSize, ex.Token).PipeTo(Self);
    }

    // ---- auth ------------------------------------------------------------------------------------------

    /// <summary>
    /// Attaches the realm's token when the exchange needs one. False when the exchange cannot go now: it waits
    /// for a token (holding no slot) or has failed because the session ended.
    /// </summary>
    private bool Authorize(Exchange ex)
    {
        ex.AccessToken = null;
        if (ex.Request.Anonymous || ex.Client.AuthRealm is not { } realmName ||
            !_context.Realms.TryGetValue(realmName, out var route) || !route.Settings.Origins.Contains(_origin))
        {
            // Invariant 7: a token only ever goes to its realm's origins (checked per hop, so redirects too).
            return true;
        }

        var cache = RealmFor(realmName, route);
        if (cache.EndedReason is { } reason)
        {
            Finish(ex, new SessionExpiredException(ex.Info(), realmName, reason));
            return false;
        }

        if (cache.IsUsable(_context.Time.GetUtcNow()))
        {
            ex.AccessToken = cache.Token;
            ex.TokenVersion = cache.Version;
            return true;
        }

        WaitForToken(ex, cache, Math.Max(cache.Version, cache.RejectedVersion));
        return false;
    }

    private RealmCache RealmFor(string realm, RealmRoute route)
    {
        if (!_realms.TryGetValue(realm, out var cache))
        {
            cache = new RealmCache(route);
            _realms[realm] = cache;
        }

        return cache;
    }

    private void WaitForToken(Exchange ex, RealmCache cache, long staleVersion)
    {
        ex.State = ExchangeState.WaitingForToken;
        ex.ArmTotal();
        ex.QueueNode = cache.Waiting.AddLast(ex);
        cache.Ask(staleVersion, Self);
    }

    /// <summary>A 401 for a request that carried a token: one retry with a newer token, never a loop.</summary>
    private void OnUnauthorized(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        var cache = _realms[ex.Client.AuthRealm!];
        cache.Rejected(ex.TokenVersion);
        if (ex.AuthRetried)
        {
            var problem = IsProblemJson(response) ? NetProblemDetails.TryParse(body.Span) : null;
            Finish(ex, new UnauthorizedException(ex.Info(), problem));
            return;
        }

        ex.AuthRetried = true;
        if (cache.IsUsable(_context.Time.GetUtcNow()))
        {
            // A newer token arrived while this request was on the wire: retry with it, no refresh.
            Enqueue(ex, front: true);
            return;
        }

        WaitForToken(ex, cache, ex.TokenVersion);
    }

    private void OnTokenGranted(Auth.TokenGranted granted)
    {
        if (!_realms.TryGetValue(granted.Realm, out var cache))
        {
            return;
        }

        cache.Granted(granted);
        // Waiting exchanges go back to the front of the queue, in their order, ahead of newer requests.
        for (var node = cache.Waiting.Last; node is not null; node = cache.Waiting.Last)
        {
            cache.Waiting.RemoveLast();
            var ex = node.Value;
            ex.QueueNode = null;
            if (ex.IsCompleted)
            {
                ex.Release();
                continue;
            }

            Enqueue(ex, front: true);
        }

        Pump();
    }

    private void OnTokenDenied(Auth.TokenDenied denied)
    {
        if (!_realms.TryGetValue(denied.Realm, out var cache))
        {
            return;
        }

        cache.Denied(denied);
        foreach (var ex in cache.Waiting.ToList())
        {
            Finish(ex, denied.Denial switch
            {
                Auth.TokenDenial.SessionExpired => new SessionExpiredException(ex.Info(), denied.Realm, denied.Reason),
                Auth.TokenDenial.Overloaded => new OverloadedException(ex.Info(), "auth realm " + denied.Realm, cache.Route.Settings.StashCapacity),
                Auth.TokenDenial.Failed => new NetRuntimeException(ex.Info(), denied.Reason, null),
                _ => new ResponseFormatException(ex.Info(), "no token: " + denied.Reason, null),
            });
        }

        Pump();
    }

    // ---- the wire ----------------------------------------------------------------------------------------

    private static HttpRequestMessage BuildMessage(Exchange ex)
    {
        var message = new HttpRequestMessage(ex.Method, ex.Target);
        var content = ex.Content?.CreateHttpContent();
        message.Content = content;
        var requestHeaders = ex.Request.Headers;
        foreach (var (name, value) in ex.Client.DefaultHeaders)
        {
            if (!Contains(requestHeaders, name))
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (ex.AccessToken is { } token)
        {
            message.Headers.TryAddWithoutValidation("Authorization", string.Concat("Bearer ", token));
        }

        foreach (var (name, value) in requestHeaders)
        {
            if (ex.AccessToken is not null && string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase))
            {
                continue; // the realm's token wins over a hand-set Authorization header
            }

            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                if (content is null || !content.Headers.TryAddWithoutValidation(name, value))
                {
                    message.Dispose();
                    throw new InvalidOperationException(content is null
                        ? $"header '{name}' describes content, but the request has no body."
                        : $"header '{name}' cannot be set on this request.");
                }
            }
        }

        return message;
    }

    private static bool Contains(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<AttemptCompleted> RunAttemptAsync(HttpClient http, Exchange ex,
        HttpRequestMessage message, long maxResponseSize, CancellationToken token)
    {
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token)
                .ConfigureAwait(false);
            var body = await BodyReader.ReadAsync(response.Content, maxResponseSize, token).ConfigureAwait(false);
            return new AttemptCompleted(ex, response, body, null);
        }
        catch (Exception e)
        {
            return new AttemptCompleted(ex, response, default, e);
        }
        finally
        {
            // The body is read (or abandoned): disposing releases the connection to the pool, or closes it.
            response?.Dispose();
            message.Dispose();
        }
    }

    private void OnAttemptCompleted(AttemptCompleted done)
    {
        var ex = done.Exchange;
        _inFlight.Remove(ex);
        try
        {
            if (ex.IsCompleted)
            {
                // Cancelled by its caller while on the wire: the outcome is already delivered.
                ex.Release();
                return;
            }

            if (done.Error is not null)
            {
                Finish(ex, Classify(ex, done.Error));
                return;
            }

            OnResponse(ex, done.Response!, done.Body);
        }
        finally
        {
            Pump();
        }
    }

    private void OnResponse(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        var status = (int)response.StatusCode;
        if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location &&
            ex.Client.MaxRedirects > 0)
        {
            FollowRedirect(ex, response.StatusCode, location);
            return;
        }

        if (status == 401 && ex.AccessToken is not null)
        {
            OnUnauthorized(ex, response, body);
            return;
        }

        if (status is >= 200 and <= 399 || ex.Request.AllowErrorStatus)
        {
            Complete(ex, response, body);
            return;
        }

        var problem = IsProblemJson(response) ? NetProblemDetails.TryParse(body.Span) : null;
        Finish(ex, HttpStatusException.For(response.StatusCode, ex.Info(), problem, RetryAfter.From(response)));
    }

    private static bool IsProblemJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media &&
        (media.Equals("application/problem+json", StringComparison.OrdinalIgnoreCase) ||
         media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private void FollowRedirect(Exchange ex, HttpStatusCode status, Uri location)
    {
        if (ex.Redirects >= ex.Client.MaxRedirects)
        {
            Finish(ex, new HttpStatusException(status, ex.Info(), null));
            return;
        }

        var next = location.IsAbsoluteUri ? location : new Uri(ex.Target!, location);
        if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps)
        {
            Finish(ex, new InvalidRequestException(ex.Info(), $"redirect to an unsupported scheme '{next.Scheme}'."));
            return;
        }

        var code = (int)status;
        if (code == 303 || (code is 301 or 302 && ex.Method == HttpMethod.Post))
        {
            ex.Method = ex.Method == HttpMethod.Head ? HttpMethod.Head : HttpMethod.Get;
            ex.Content = null;
        }

        if (_context.Log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
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

        // Another origin: its own host actor (and its own cap) takes over.
        ex.OriginKey = origin;
        ex.Owner = null;
        ex.State = ExchangeState.New;
        ex.ArmTotal();
        _context.Gateway.Tell(ex);
    }

    private void Complete(Exchange ex, HttpResponseMessage response, ReadOnlyMemory<byte> body)
    {
        var elapsed = ex.Elapsed;
        var result = new NetResponse(ex.Request, ex.Target!, response.StatusCode, response.Headers,
            response.Content.Headers, body, ex.Attempts, elapsed, ex.Redaction);
        if (_context.Log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            _context.Log.Completed(ex.Method.Method, ex.Redaction.Url(ex.Target!), (int)response.StatusCode,
                elapsed.TotalMilliseconds, ex.Attempts, ex.Request.Client);
        }

        ex.TryComplete(result);
        ex.Release();
    }

    /// <summary>Delivers a failure (once) and logs it; the exchange leaves this actor.</summary>
    private void Finish(Exchange ex, Exception error)
    {
        if (ex.QueueNode is { } node)
        {
            node.List?.Remove(node);
            ex.QueueNode = null;
        }

        if (ex.TryFail(error))
        {
            LogFailure(ex, error);
        }

        if (!_inFlight.Contains(ex))
        {
            ex.Release();
        }
    }

    private void LogFailure(Exchange ex, Exception error)
    {
        var url = ex.Target is null ? ex.Redaction.Url(ex.Request.Url) : ex.Redaction.Url(ex.Target);
        if (error is HttpStatusException status && (int)status.StatusCode < 500)
        {
            if (_context.Log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
            {
                _context.Log.Rejected(ex.Method.Method, url, (int)status.StatusCode, ex.Elapsed.TotalMilliseconds,
                    ex.Attempts, ex.Request.Client, error.GetType().Name);
            }

            return;
        }

        if (error is OperationCanceledException or InvalidRequestException or OverloadedException)
        {
            return;
        }

        if (_context.Log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Warning))
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
            case OperationCanceledException when ex.CallerCancelled:
                return new OperationCanceledException("The caller cancelled the request.", error, ex.CallerToken);
            case OperationCanceledException when ex.Token.IsCancellationRequested:
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

    private void OnDeadline(Exchange ex)
    {
        if (!ReferenceEquals(ex.Owner, Self) || ex.State == ExchangeState.InFlight)
        {
            // On the wire, the attempt itself observes the cancellation; elsewhere, not ours (anymore).
            return;
        }

        if (ex.State == ExchangeState.Done)
        {
            if (!_inFlight.Contains(ex))
            {
                ex.Release();
            }

            return;
        }

        if (!ex.CallerCancelled && ex.Remaining > DeadlineTolerance)
        {
            // A stale attempt deadline that fired after the attempt ended: keep the total one.
            ex.RenewAfterAttemptTimeout();
            return;
        }

        Finish(ex, ex.CallerCancelled
            ? new OperationCanceledException("The caller cancelled the request.", ex.CallerToken)
            : new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total));
    }

    private static readonly TimeSpan DeadlineTolerance = TimeSpan.FromMilliseconds(20);

    protected override void PreRestart(Exception reason, object message)
    {
        _log.Error(reason, "Host actor for {0} failed; failing the requests it held and restarting", _origin);
        FailAll(info => new NetRuntimeException(info, "the host actor failed and was restarted", reason));
        // No base call: the actor has no children to stop, and PostStop must not fail them twice.
    }

    protected override void PostStop()
    {
        FailAll(info => new NetShutdownException(info));
        _http.Dispose();
    }

    private void FailAll(Func<NetRequestInfo, Exception> error)
    {
        var waiting = _realms.Values.SelectMany(r => r.Waiting);
        foreach (var ex in _priority.Concat(_queue).Concat(waiting).Concat(_inFlight).ToList())
        {
            if (ex.TryFail(error(ex.Info())))
            {
                LogFailure(ex, error(ex.Info()));
            }
        }

        _priority.Clear();
        _queue.Clear();
        foreach (var realm in _realms.Values)
        {
            realm.Waiting.Clear();
        }

        // In-flight calls are abandoned: their exchanges are answered; the late results go nowhere.
        _inFlight.Clear();
    }
}

/// <summary>An attempt ended: with a response and its body, or with an error.</summary>
internal sealed record AttemptCompleted(
    Exchange Exchange,
    HttpResponseMessage? Response,
    ReadOnlyMemory<byte> Body,
    Exception? Error) : IDeadLetterSuppression;

/// <summary>Parses <c>Retry-After</c> in both its forms: delay-seconds and HTTP-date.</summary>
internal static class RetryAfter
{
    public static TimeSpan? From(HttpResponseMessage response) => From(response.Headers.RetryAfter, DateTimeOffset.UtcNow);

    public static TimeSpan? From(RetryConditionHeaderValue? value, DateTimeOffset now)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (value.Date is { } date)
        {
            var wait = date - now;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }
}
