using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using NetActors.Errors;

namespace NetActors;

/// <summary>
/// What <see cref="INetClient.TrySendAsync"/> answers: the request's response, or the typed error it ended with,
/// handed over as a value instead of thrown. A caller that resends after <see cref="OverloadedException"/> or
/// <see cref="RateLimitedException"/> in a loop pays a few hundred nanoseconds per refusal this way instead of
/// the several microseconds an exception costs to throw and catch, which under overload is CPU the requests on
/// the wire need.
/// </summary>
public readonly struct NetOutcome : IEquatable<NetOutcome>
{
    /// <summary>A successful outcome.</summary>
    /// <param name="response">The response.</param>
    public NetOutcome(NetResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        Response = response;
    }

    /// <summary>A failed outcome.</summary>
    /// <param name="error">The error the request ended with.</param>
    public NetOutcome(NetException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    /// <summary>The response (2xx or 3xx), or null when the request failed.</summary>
    public NetResponse? Response { get; }

    /// <summary>
    /// The error the request ended with, exactly the exception <see cref="INetClient.SendAsync"/> would have thrown,
    /// or null when it succeeded. It was never thrown, so it has no stack trace.
    /// </summary>
    public NetException? Error { get; }

    /// <summary>True when the request has a response; false when it has an <see cref="Error"/>.</summary>
    [MemberNotNullWhen(true, nameof(Response))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsSuccess => Response is not null;

    /// <summary>The response, or <see cref="Error"/> thrown (what <see cref="INetClient.SendAsync"/> does).</summary>
    /// <exception cref="NetException">The request's error.</exception>
    /// <exception cref="InvalidOperationException">A default <see cref="NetOutcome"/>, which holds neither.</exception>
    public NetResponse GetResponseOrThrow()
    {
        if (Response is not null)
        {
            return Response;
        }

        if (Error is null)
        {
            throw new InvalidOperationException("A default NetOutcome holds neither a response nor an error.");
        }

        ExceptionDispatchInfo.Throw(Error);
        return null!; // not reached
    }

    /// <inheritdoc />
    public bool Equals(NetOutcome other) => ReferenceEquals(Response, other.Response) && ReferenceEquals(Error, other.Error);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NetOutcome other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Response, Error);

    /// <summary>Whether both hold the same response or the same error.</summary>
    /// <param name="left">One outcome.</param>
    /// <param name="right">The other.</param>
    public static bool operator ==(NetOutcome left, NetOutcome right) => left.Equals(right);

    /// <summary>Whether they hold different responses or errors.</summary>
    /// <param name="left">One outcome.</param>
    /// <param name="right">The other.</param>
    public static bool operator !=(NetOutcome left, NetOutcome right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => Response is not null
        ? $"{(int)Response.StatusCode} {Response.StatusCode}"
        : Error?.GetType().Name ?? "(none)";

    /// <summary>
    /// The outcome of <paramref name="task"/> once it finishes, without throwing its <see cref="NetException"/>. A
    /// cancelled task, or one that failed with anything else, gives a task that throws what awaiting it would.
    /// </summary>
    internal static ValueTask<NetOutcome> OfAsync(Task<NetResponse> task)
    {
        if (task.IsCompletedSuccessfully)
        {
            return new ValueTask<NetOutcome>(new NetOutcome(task.Result));
        }

        return task.IsFaulted && ErrorOf(task) is { } error
            ? new ValueTask<NetOutcome>(new NetOutcome(error))
            : WhenDoneAsync(task);
    }

    private static async ValueTask<NetOutcome> WhenDoneAsync(Task<NetResponse> task)
    {
        await ((Task)task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return task.IsFaulted && ErrorOf(task) is { } error
            ? new NetOutcome(error)
            : new NetOutcome(await task.ConfigureAwait(false)); // throws: cancelled, or not a NetException
    }

    private static NetException? ErrorOf(Task task) =>
        task.Exception!.InnerExceptions is [NetException error] ? error : null;
}
