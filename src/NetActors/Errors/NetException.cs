using System.Net;

namespace NetActors.Errors;

/// <summary>
/// The base of every error NetActors reports for a request. It carries what a caller needs to act on the
/// failure (method, URL without secrets, status, attempts, RFC 9457 problem details) and never a secret.
/// </summary>
public abstract class NetException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened, without secrets.</param>
    /// <param name="info">The request it happened to, or null when there was none.</param>
    /// <param name="inner">The underlying error, if any.</param>
    protected NetException(string message, NetRequestInfo? info, Exception? inner = null)
        : base(message, inner)
    {
        Client = info?.Client;
        Method = info?.Method;
        Url = info?.Url;
        Attempts = info?.Attempts ?? 0;
    }

    /// <summary>The name of the client the request was sent through.</summary>
    public string? Client { get; }

    /// <summary>The HTTP method, for example <c>GET</c>.</summary>
    public string? Method { get; }

    /// <summary>The request URL with secret query values masked.</summary>
    public string? Url { get; }

    /// <summary>How many times the request went on the wire (0 if it never did).</summary>
    public int Attempts { get; }

    /// <summary>The response status, when a response was received.</summary>
    public HttpStatusCode? StatusCode { get; protected init; }

    /// <summary>Problem details (RFC 9457) from an <c>application/problem+json</c> response body.</summary>
    public NetProblemDetails? Problem { get; protected init; }

    /// <summary>"GET https://host/path" for messages.</summary>
    protected static string Describe(NetRequestInfo? info) =>
        info is null ? "request" : $"{info.Method} {info.Url}";

    /// <summary>" after N attempts" for messages.</summary>
    protected static string AttemptsText(NetRequestInfo? info) =>
        info is null || info.Attempts <= 1 ? string.Empty : $" after {info.Attempts} attempts";
}

/// <summary>What an exception says about the request it belongs to. The URL is already redacted.</summary>
/// <param name="Client">The client name.</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Url">The redacted URL.</param>
/// <param name="Attempts">How many attempts went on the wire.</param>
public sealed record NetRequestInfo(string Client, string Method, string Url, int Attempts);
