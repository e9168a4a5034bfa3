using NetActors.Errors;

namespace NetActors.Resilience;

/// <summary>What an interceptor is told about the request it sees.</summary>
/// <param name="Request">The logical request.</param>
/// <param name="Attempt">The attempt number (1 for the first).</param>
public sealed record NetInterceptorContext(NetRequest Request, int Attempt);

/// <summary>
/// A hook into every request of a client, like Dio's interceptors: <see cref="OnRequestAsync"/> before each
/// attempt goes on the wire (add or change headers), <see cref="OnResponseAsync"/> for each successful outcome,
/// <see cref="OnErrorAsync"/> for each failed one. Interceptors run in the order they were added, never on an
/// actor's thread. One that throws fails that request with <see cref="NetInterceptorException"/> naming it;
/// every other request goes on.
/// </summary>
public abstract class NetInterceptor
{
    /// <summary>The name errors and logs use; the type name unless overridden.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>Before an attempt is sent. Change the message as needed.</summary>
    /// <param name="request">The HTTP message of this attempt.</param>
    /// <param name="context">The logical request and attempt number.</param>
    /// <param name="cancellationToken">Cancelled when the request is.</param>
    public virtual ValueTask OnRequestAsync(HttpRequestMessage request, NetInterceptorContext context,
        CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>After a successful outcome, before the caller gets it.</summary>
    /// <param name="response">The response.</param>
    /// <param name="context">The logical request and attempt number.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public virtual ValueTask OnResponseAsync(NetResponse response, NetInterceptorContext context,
        CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>After a failed outcome, before the caller gets it (to observe; the error stands).</summary>
    /// <param name="error">The error the caller will get.</param>
    /// <param name="context">The logical request and attempt number.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public virtual ValueTask OnErrorAsync(Exception error, NetInterceptorContext context,
        CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>An interceptor threw: the request failed because of it (the runtime goes on serving).</summary>
public sealed class NetInterceptorException(NetRequestInfo? info, string interceptor, string hook, Exception inner)
    : NetException($"{Describe(info)} failed: interceptor '{interceptor}' threw in {hook}: {inner.GetType().Name}: {inner.Message}", info, inner)
{
    /// <summary>The interceptor's name.</summary>
    public string Interceptor { get; } = interceptor;

    /// <summary>OnRequest, OnResponse or OnError.</summary>
    public string Hook { get; } = hook;
}

/// <summary>A client's C# hooks: the retry classifier and the interceptors.</summary>
internal sealed class ClientHooks
{
    public static readonly ClientHooks None = new();

    public Func<NetException, bool> IsTransient { get; set; } = RetryClassifier.IsTransient;

    public List<NetInterceptor> Interceptors { get; } = [];

    /// <summary>JSON options set in C# (<c>WithJson</c>), replacing the client's <c>json.*</c> settings.</summary>
    public System.Text.Json.JsonSerializerOptions? Json { get; set; }
}

/// <summary>Internal signal from an attempt: an OnRequest hook threw.</summary>
internal sealed class InterceptorFailure(string interceptor, Exception inner) : Exception(inner.Message, inner)
{
    public string Interceptor { get; } = interceptor;
}

/// <summary>
/// The attempt's token fired while an OnRequest hook ran: nothing was sent yet, so unless the caller cancelled or the
/// request's total budget ran out, the hook used up the attempt's time (its fault, never the origin's).
/// </summary>
internal sealed class InterceptorStalled(string interceptor, OperationCanceledException inner) : Exception(inner.Message, inner)
{
    public string Interceptor { get; } = interceptor;
}
