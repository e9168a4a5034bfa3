using System.Net;

namespace NetActors.Errors;

/// <summary>The upstream answered with an error status. Subclasses name the common ones.</summary>
public class HttpStatusException : NetException
{
    /// <summary>Creates the exception for a response with status <paramref name="status"/>.</summary>
    /// <param name="status">The response status.</param>
    /// <param name="info">The request.</param>
    /// <param name="problem">Problem details from the body, if it carried them.</param>
    public HttpStatusException(HttpStatusCode status, NetRequestInfo? info, NetProblemDetails? problem)
        : this(status, info, problem, null)
    {
    }

    /// <summary>Creates the exception, with a sentence of the runtime's own about what it did (or did not do) next.</summary>
    /// <param name="status">The response status.</param>
    /// <param name="info">The request.</param>
    /// <param name="problem">Problem details from the body, if it carried them.</param>
    /// <param name="note">Appended to the message, or null.</param>
    protected HttpStatusException(HttpStatusCode status, NetRequestInfo? info, NetProblemDetails? problem, string? note)
        : base(MessageFor(status, info, problem) + (note is null ? "" : " " + note), info)
    {
        StatusCode = status;
        Problem = problem;
    }

    /// <summary>The response status.</summary>
    public new HttpStatusCode StatusCode
    {
        get => base.StatusCode!.Value;
        private init => base.StatusCode = value;
    }

    private static string MessageFor(HttpStatusCode status, NetRequestInfo? info, NetProblemDetails? problem)
    {
        var text = $"{Describe(info)} failed with {(int)status} {ReasonOf(status)}{AttemptsText(info)}";
        if (problem is not null && (problem.Title is not null || problem.Detail is not null))
        {
            text += ": " + (problem.Detail ?? problem.Title);
        }

        return text + ".";
    }

    private static string ReasonOf(HttpStatusCode status) =>
        Enum.IsDefined(status) ? status.ToString() : "Status";

    /// <summary>The typed exception for a status: 400 → <see cref="ValidationException"/> and so on.</summary>
    /// <param name="status">The response status.</param>
    /// <param name="info">The request.</param>
    /// <param name="problem">Problem details, if any.</param>
    /// <param name="retryAfter">The <c>Retry-After</c> delay, if the response had one.</param>
    public static HttpStatusException For(HttpStatusCode status, NetRequestInfo? info, NetProblemDetails? problem,
        TimeSpan? retryAfter = null) => (int)status switch
    {
        400 => new ValidationException(info, problem),
        401 => new UnauthorizedException(info, problem),
        403 => new ForbiddenException(info, problem),
        404 => new NotFoundException(info, problem),
        409 => new ConflictException(info, problem),
        422 => new UnprocessableException(info, problem),
        429 => new RateLimitedException(info, problem, retryAfter),
        >= 500 and <= 599 => new ServerException(status, info, problem, retryAfter),
        _ => new HttpStatusException(status, info, problem),
    };
}

/// <summary>400 Bad Request: the upstream rejected the request's content.</summary>
public sealed class ValidationException(NetRequestInfo? info, NetProblemDetails? problem)
    : HttpStatusException(HttpStatusCode.BadRequest, info, problem);

/// <summary>401 Unauthorized, after any token refresh the request was entitled to.</summary>
/// <param name="info">The request.</param>
/// <param name="problem">Problem details, if any.</param>
/// <param name="note">What the runtime did not do, in a sentence (a request that is not resent says why), or null.</param>
public sealed class UnauthorizedException(NetRequestInfo? info, NetProblemDetails? problem, string? note = null)
    : HttpStatusException(HttpStatusCode.Unauthorized, info, problem, note);

/// <summary>403 Forbidden: authenticated, but not allowed.</summary>
public sealed class ForbiddenException(NetRequestInfo? info, NetProblemDetails? problem)
    : HttpStatusException(HttpStatusCode.Forbidden, info, problem);

/// <summary>404 Not Found.</summary>
public sealed class NotFoundException(NetRequestInfo? info, NetProblemDetails? problem)
    : HttpStatusException(HttpStatusCode.NotFound, info, problem);

/// <summary>409 Conflict.</summary>
public sealed class ConflictException(NetRequestInfo? info, NetProblemDetails? problem)
    : HttpStatusException(HttpStatusCode.Conflict, info, problem);

/// <summary>422 Unprocessable Content.</summary>
public sealed class UnprocessableException(NetRequestInfo? info, NetProblemDetails? problem)
    : HttpStatusException(HttpStatusCode.UnprocessableContent, info, problem);

/// <summary>429 Too Many Requests, with the delay the upstream asked for.</summary>
public sealed class RateLimitedException(NetRequestInfo? info, NetProblemDetails? problem, TimeSpan? retryAfter)
    : HttpStatusException(HttpStatusCode.TooManyRequests, info, problem)
{
    /// <summary>The upstream's <c>Retry-After</c>, if it sent one.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>A 5xx status: the upstream failed.</summary>
public sealed class ServerException(HttpStatusCode status, NetRequestInfo? info, NetProblemDetails? problem,
    TimeSpan? retryAfter) : HttpStatusException(status, info, problem)
{
    /// <summary>The upstream's <c>Retry-After</c>, if it sent one (typical with 503).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
