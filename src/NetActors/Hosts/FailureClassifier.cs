using System.Net;
using System.Net.Sockets;
using NetActors.Errors;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>
/// What a failed attempt means, decided without actor state: the typed error its caller gets, and whether it
/// says anything about the origin's health (only those failures count against the origin's circuit).
/// </summary>
internal static class FailureClassifier
{
    /// <summary>Turns what an attempt threw into the typed error the caller gets.</summary>
    public static Exception Classify(Exchange ex, Exception error)
    {
        if (RequestBodyException.In(error) is { } body)
        {
            return new InvalidRequestException(ex.Info(), body.Message);
        }

        switch (error)
        {
            case InterceptorFailure hook:
                return new NetInterceptorException(ex.Info(), hook.Interceptor, "OnRequest", hook.InnerException!);
            case InterceptorStalled stalled when !ex.Aborted && !ex.DeadlineIsTotal:
                // Nothing was on the wire yet: the hook took the attempt's whole time. Not retried, not counted.
                return new NetInterceptorException(ex.Info(), stalled.Interceptor, "OnRequest", new TimeoutException(
                    $"it did not return within the attempt timeout ({ex.Client.ResponseTimeout.TotalSeconds:0.###} s)"));
            case InterceptorStalled stalled:
                return Classify(ex, stalled.InnerException!); // the caller's cancellation, or the total timeout
            case OperationCanceledException when ex.CallerCancelled && (ex.Aborted || !ex.AttemptCancelled):
                return new OperationCanceledException("The caller cancelled the request.", error, ex.CallerToken);
            case OperationCanceledException when ex.AttemptCancelled && !ex.DeadlineIsTotal && ex.BodyStalled:
                // The attempt's time ran out waiting for the caller's own body stream: not retried, not counted.
                return new InvalidRequestException(ex.Info(),
                    $"the attempt timeout ({ex.Client.ResponseTimeout.TotalSeconds:0.###} s) ran out while the request body's own stream was read: the body stalled");
            case OperationCanceledException when ex.AttemptCancelled:
                return ex.DeadlineIsTotal
                    ? new NetTimeoutException(ex.Info(), ex.TotalTimeout, TimeoutKind.Total, error)
                    : new NetTimeoutException(ex.Info(), ex.Client.ResponseTimeout, TimeoutKind.Attempt, error);
            case OperationCanceledException { InnerException: TimeoutException } or
                HttpRequestException { InnerException: TimeoutException }:
                return new NetTimeoutException(ex.Info(), ex.Client.ConnectTimeout, TimeoutKind.Connect, error);
            case DownloadFileFailure disk:
                return new DownloadWriteException(ex.Info(), disk.InnerException!);
            case DownloadProgressFailure progress:
                return new InvalidRequestException(ex.Info(),
                    "the download's progress reporter threw " + progress.InnerException!.GetType().Name + ": " + progress.InnerException.Message);
            case BodyTooLargeException big:
                return new ResponseTooLargeException(ex.Info(), big.Limit, big.Declared);
            case HttpRequestException when ex.BodyCutOff:
                return new NetworkException(ex.Info(),
                    "the server closed the connection while the request body was sent (it may refuse the body: too large, or not allowed)", error);
            case HttpRequestException http:
                return new NetworkException(ex.Info(), NetworkReason(http), error);
            case InvalidDataException bad:
                // The body is not in the encoding its Content-Encoding names (a gzip or brotli stream that is not one).
                return new ResponseFormatException(ex.Info(), "its Content-Encoding could not be decoded: " + bad.Message, error);
            case IOException or SocketException:
                return new NetworkException(ex.Info(), "the connection failed while the response was read", error);
            case OperationCanceledException:
                return new NetworkException(ex.Info(), "the request was aborted", error);
            default:
                return new NetRuntimeException(ex.Info(), error.GetType().Name + ": " + error.Message, error);
        }
    }

    public static string NetworkReason(HttpRequestException e) => e.HttpRequestError switch
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

    /// <summary>
    /// Whether a failed attempt says nothing of the origin, not even that it is healthy: the caller's own fault (an
    /// invalid request, a hook), a request whose own total budget ran out (while queued, in a hook, or on the wire
    /// with less than a whole attempt timeout left), or an upload the server cut off mid-body (a refusal it could
    /// not say first, or a server failing: no telling which). The circuit and the adaptive limit learn of the origin
    /// from other requests; a half-open probe that ends so is given back.
    /// </summary>
    public static bool SaysNothingOfOrigin(Exchange ex, Exception failure) =>
        failure is InvalidRequestException or NetInterceptorException ||
        (failure is NetTimeoutException { Kind: TimeoutKind.Total }) ||
        (failure is NetworkException && ex.BodyCutOff);

    /// <summary>
    /// Whether a failed attempt says something about the origin's health (the circuit counts only these): a
    /// network failure, or an attempt timeout when the attempt had its whole attempt timeout on the wire. Not a
    /// timeout because the request's own total budget ran out (it waited too long here: the client's overload,
    /// not the origin's), not the caller's body, not a hook, not a bad request.
    /// </summary>
    public static bool CountsAgainstOrigin(Exchange ex, Exception failure) => failure switch
    {
        NetworkException => true,
        NetTimeoutException { Kind: TimeoutKind.Connect } => true,
        NetTimeoutException => !ex.DeadlineIsTotal,
        _ => false,
    };
}
