using NetActors.Configuration;
using NetActors.Resilience;

namespace NetActors.Hosts;

/// <summary>
/// Builds what goes on the wire, synchronously and without actor state: the checks and preparation a request gets
/// once, and the <see cref="HttpRequestMessage"/> of each attempt. The host actor calls it; tests call it directly.
/// </summary>
internal static class RequestMessageBuilder
{
    /// <summary>
    /// Once per logical request, when its host first admits it: resolves a relative URL, checks the caller's
    /// headers, serializes a JSON body with the client's options and sets the idempotency key. Null when the
    /// request can go; otherwise what is wrong with it (never a header's value).
    /// </summary>
    public static string? Prepare(Exchange ex, Func<ClientSettings, System.Text.Json.JsonSerializerOptions> json)
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

        if (ex.Method == HttpMethod.Connect)
        {
            return "the CONNECT method opens a tunnel (a proxy's business), not a request this client sends";
        }

        ex.OriginalOrigin = ex.OriginKey; // the gateway's key of the first hop: the target's origin, not made again
        var headers = ex.Request.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            var problem = HeaderRules.Check(name, value) ?? HeaderRules.CheckRequestOnly(name);
            if (problem is not null)
            {
                return problem;
            }
        }

        ex.JsonOptions = json(ex.Client);
        if (SerializeBody(ex, ex.JsonOptions) is { } bodyProblem)
        {
            return bodyProblem;
        }

        var retry = ex.Client.Retry;
        ex.IdempotencyKey = ex.Request.IdempotencyKey ?? HeaderValue(ex.Request.Headers, retry.IdempotencyHeader);
        if (ex.IdempotencyKey is null && retry.IdempotencyKeys && !RetryClassifier.IsIdempotent(ex.Method))
        {
            ex.IdempotencyKey = Guid.NewGuid().ToString("N"); // once per logical request, the same on every attempt
        }

        return ex.IdempotencyKey is not null ? HeaderRules.Check(retry.IdempotencyHeader, ex.IdempotencyKey) : null;
    }

    /// <summary>
    /// Serializes a JSON body that waits for its client's options (once; a body already serialized is left as it
    /// is). The facade calls it on the caller's thread before the request reaches an actor, so the body's own code
    /// (its getters, its converters) runs there and not on the origin's actor; the host actor calls it again for a
    /// request that came another way. Null when the body is ready; otherwise what is wrong with it.
    /// </summary>
    public static string? SerializeBody(Exchange ex, System.Text.Json.JsonSerializerOptions options)
    {
        if (ex.Content is not { WaitsForClient: true } content)
        {
            return null;
        }

        try
        {
            ex.Content = content.ForClient(options);
            return null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            return "the body could not be serialized as JSON: " + e.Message;
        }
        catch (Exception e)
        {
            // The body's own code threw (a property getter, a converter): the caller's problem, never the actor's.
            return "the body could not be serialized as JSON: " + e.GetType().Name + ": " + e.Message;
        }
    }

    /// <summary>The value of header <paramref name="name"/> in <paramref name="headers"/> (any case), or null.</summary>
    public static string? HeaderValue(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return headers[i].Value;
            }
        }

        return null;
    }

    /// <summary>
    /// The message of the exchange's next attempt: its method, target and body (guarded, with upload progress),
    /// the client's default headers, the realm's token when it carries one, the validators of a revalidation, the
    /// idempotency key, the caller's headers. Throws when .NET refuses a header (the caller fails the request
    /// typed, before anything was sent).
    /// </summary>
    /// <param name="ex">The exchange.</param>
    /// <param name="realmOrigins">The origins of the client's auth realm, if it has one: its credential headers may go there too.</param>
    public static HttpRequestMessage Build(Exchange ex, IReadOnlySet<string>? realmOrigins = null)
    {
        // After a redirect to another origin, no credential header of the original request goes along (the
        // realm's bearer token is decided per hop by Authorize; these are hand-set ones such as Basic or Cookie).
        // A next page a server named on another origin than its first page's gets none of the caller's either.
        var crossed = (ex.Redirects > 0 && ex.OriginalOrigin is { } first && first != Origins.KeyOf(ex.Target!)) ||
                      (ex.Request.CredentialsOrigin is { } named && !string.Equals(named, ex.OriginKey, StringComparison.Ordinal));

        // The client's own credential headers (a default Cookie, an API key) go only where its realm's token may go:
        // its base address's origin and its realm's origins, not to an absolute URL elsewhere.
        var away = crossed || (ex.Client.BaseOrigin is { } home && !string.Equals(home, ex.OriginKey, StringComparison.Ordinal) &&
                               realmOrigins?.Contains(ex.OriginKey) != true);
        var message = new HttpRequestMessage(ex.Method, ex.Target);
        ex.BodyStalled = false; // per attempt
        ex.BodyCutOff = false;
        var content = ex.Content?.CreateHttpContent();
        if (content is not null)
        {
            if (ex.Request.UploadProgress is { } progress)
            {
                content = new Content.ProgressContent(content, progress, ex.Attempts + 1);
            }

            // What the caller's body does wrong (a stream that throws, a length that lies, a progress reporter that
            // throws) is told apart from what the connection does wrong: the first is the request's problem, never
            // the origin's. So the guard is outermost, right on the connection's stream.
            content = new BodyGuardContent(content, ex);
        }

        message.Content = content;
        var requestHeaders = ex.Request.Headers;
        var defaultHeaders = ex.Client.DefaultHeaders;
        for (var i = 0; i < defaultHeaders.Count; i++)
        {
            var (name, value) = defaultHeaders[i];
            if (HeaderValue(requestHeaders, name) is null && !(away && ex.Redaction.IsSecretHeader(name)))
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (ex.Authorization is { } authorization)
        {
            message.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (ex.Cached is { } cached)
        {
            // Revalidation of a stored response: a 304 answers with its body.
            if (cached.ETag is { } etag)
            {
                message.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }
            else if (cached.LastModified is { } modified)
            {
                message.Headers.IfModifiedSince = modified;
            }
        }

        var idempotencyHeader = ex.Client.Retry.IdempotencyHeader;
        if (ex.IdempotencyKey is { } key)
        {
            message.Headers.TryAddWithoutValidation(idempotencyHeader, key);
        }

        for (var i = 0; i < requestHeaders.Count; i++)
        {
            var (name, value) = requestHeaders[i];
            if ((crossed && ex.Redaction.IsSecretHeader(name)) ||
                (ex.Authorization is not null && string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase)) ||
                (ex.IdempotencyKey is not null && string.Equals(name, idempotencyHeader, StringComparison.OrdinalIgnoreCase)) ||
                Telemetry.NetActivity.IsTraceHeader(ex, name))
            {
                continue; // the realm's token, the idempotency key and the trace context are set here
            }

            if (!message.Headers.TryAddWithoutValidation(name, value) &&
                (content is null || !content.Headers.TryAddWithoutValidation(name, value)))
            {
                message.Dispose();
                throw new InvalidOperationException(content is null
                    ? $"header '{name}' describes content, but the request has no body."
                    : $"header '{name}' cannot be set on this request.");
            }
        }

        Telemetry.NetActivity.Inject(ex, message); // telemetry: exactly one traceparent, the request span's
        ContentDecoding.Offer(message);
        return message;
    }
}
