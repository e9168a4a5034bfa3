using System.Globalization;
using System.Text;
using System.Text.Json;
using NetActors.Errors;
using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>
/// What a refresher gets: the realm, the current tokens (null when there are none), and a way to send the
/// refresh call through the runtime (anonymous, on its origin's cap, ahead of that origin's queue).
/// </summary>
public sealed class TokenRefreshContext
{
    private readonly Func<NetRequest, CancellationToken, Task<NetResponse>> _send;

    internal TokenRefreshContext(string realm, TokenSet? current, string tokenClient,
        Func<NetRequest, CancellationToken, Task<NetResponse>> send)
    {
        Realm = realm;
        Current = current;
        TokenClient = tokenClient;
        _send = send;
    }

    /// <summary>The auth realm being refreshed.</summary>
    public string Realm { get; }

    /// <summary>The current tokens, or null when the realm has none (never signed in, or client credentials).</summary>
    public TokenSet? Current { get; }

    /// <summary>The client the realm's refresh calls go through.</summary>
    public string TokenClient { get; }

    /// <summary>
    /// Sends a request through the runtime as a refresh call: it carries no bearer token, respects its origin's
    /// connection cap and takes the next free slot ahead of queued requests. It is not retried by the runtime.
    /// </summary>
    /// <param name="request">The refresh request.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<NetResponse> SendAsync(NetRequest request, CancellationToken cancellationToken) =>
        _send(request with { Anonymous = true }, cancellationToken);
}

/// <summary>Obtains new tokens for a realm.</summary>
internal interface ITokenRefresher
{
    /// <summary>True when the refresher needs current tokens (a refresh token) to work.</summary>
    bool NeedsSession { get; }

    /// <summary>New tokens; throws <see cref="TokenRejectedException"/> when the server rejected the refresh.</summary>
    Task<TokenSet> RefreshAsync(TokenRefreshContext context, CancellationToken cancellationToken);
}

internal static class TokenRefreshers
{
    public static ITokenRefresher? Create(RealmSettings realm,
        Func<TokenRefreshContext, CancellationToken, Task<TokenSet>>? refresher) => realm.Strategy switch
    {
        RefreshStrategy.Endpoint => new EndpointRefresher(realm.Endpoint, realm.DPoPKey is not null),
        RefreshStrategy.OAuthRefreshToken => new OAuthRefresher(realm.OAuth, clientCredentials: false, realm.DPoPKey is not null),
        RefreshStrategy.OAuthClientCredentials => new OAuthRefresher(realm.OAuth, clientCredentials: true, realm.DPoPKey is not null),
        RefreshStrategy.Delegate => new DelegateRefresher(refresher!),
        _ => null,
    };

    /// <summary>
    /// Sends the refresh call and maps the answer: 400/401/403 (or an <c>invalid_grant</c> body) means the
    /// server rejected it; an answer that can never be read (not in <paramref name="format"/>, over the size
    /// limit) is a <see cref="ResponseFormatException"/>; anything else that fails (network, timeout, 429, 5xx)
    /// propagates as transient.
    /// </summary>
    public static async Task<JsonElement> SendAsync(TokenRefreshContext context, NetRequest request, CancellationToken ct,
        TokenAnswerFormat format = TokenAnswerFormat.Json, bool dpop = false)
    {
        if (dpop)
        {
            // The host replaces it with a proof for the attempt's actual URL, and the token endpoint's nonce.
            request = request.WithHeader(DPoPProofs.Header, "proof");
        }

        NetResponse response;
        try
        {
            response = await context.SendAsync(request with { AllowErrorStatus = true }, ct).ConfigureAwait(false);
            if (dpop && (int)response.StatusCode is 400 or 401 && AsksForNonce(response))
            {
                // RFC 9449 8: the server wants its nonce in the proof; the host has remembered it. One retry.
                response = await context.SendAsync(request with { AllowErrorStatus = true }, ct).ConfigureAwait(false);
            }
        }
        catch (InvalidRequestException e)
        {
            throw new TokenRejectedException("the refresh request is invalid: " + e.Message, e);
        }
        catch (ResponseTooLargeException e)
        {
            // It will be as large next time: the answer is judged unusable once, not retried.
            throw new ResponseFormatException(new NetRequestInfo(request.Client, request.Method.Method, "token endpoint", 1),
                "the token endpoint's answer is over the size limit.", e);
        }

        var status = (int)response.StatusCode;
        var body = format switch
        {
            TokenAnswerFormat.Form => TryParseForm(response) ?? TryParse(response),
            TokenAnswerFormat.Text => status is >= 200 and <= 299 ? TextAnswer(response) : TryParse(response),
            _ => TryParse(response),
        };
        var oauthError = body is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var err) &&
                         err.ValueKind == JsonValueKind.String ? err.GetString() : null;
        if (status is 400 or 401 or 403 || oauthError is "invalid_grant" or "invalid_client" or "unauthorized_client")
        {
            // Only a registered error code is repeated (into the message, the log, the SessionExpired event): a
            // server that echoes the refresh token or the client's secret as its "error" must not get it logged.
            throw new TokenRejectedException(oauthError is null || !RegisteredErrors.Contains(oauthError)
                ? $"the token endpoint answered {status}" + (oauthError is null ? string.Empty : " (an unregistered error code)")
                : $"the token endpoint answered {status} {oauthError}");
        }

        if (status is < 200 or > 299)
        {
            var info = new NetRequestInfo(request.Client, request.Method.Method, "token endpoint", response.Attempts);
            throw HttpStatusException.For(response.StatusCode, info, null, null);
        }

        if (body is null)
        {
            throw Malformed(request, format switch
            {
                TokenAnswerFormat.Form => "the token endpoint's answer is neither form-encoded nor JSON.",
                TokenAnswerFormat.Text => "the token endpoint's answer is empty.",
                _ => "the token endpoint's answer is not JSON.",
            });
        }

        return body.Value;
    }

    public static TokenSet ReadTokens(NetRequest request, JsonElement body, string accessPath, string refreshPath,
        string expiresInPath, TokenSet? current, DateTimeOffset now)
    {
        var access = Find(body, accessPath);
        if (access is not { ValueKind: JsonValueKind.String } || string.IsNullOrEmpty(access.Value.GetString()))
        {
            throw Malformed(request, $"the token endpoint's answer has no string at '{accessPath}'.");
        }

        var refresh = Find(body, refreshPath) is { ValueKind: JsonValueKind.String } r ? r.GetString() : null;
        DateTimeOffset? expiresAt = null;
        if (Find(body, expiresInPath) is { } expires)
        {
            // A lifetime that is not a finite number of seconds within reason can never work: judged once, here.
            var lifetime = expires.ValueKind switch
            {
                JsonValueKind.Number when expires.TryGetDouble(out var seconds) => TokenAnswers.Lifetime(seconds),
                JsonValueKind.String => TokenAnswers.Lifetime(expires.GetString()),
                _ => null,
            };
            expiresAt = lifetime is { } span
                ? now + span
                : throw Malformed(request, $"'{expiresInPath}' in the token endpoint's answer is not a plausible number of seconds.");
        }

        // A server that does not rotate refresh tokens omits the new one: keep the current one.
        return new TokenSet(access.Value.GetString()!, refresh ?? current?.RefreshToken, expiresAt);
    }

    private static bool AsksForNonce(NetResponse response) =>
        response.Headers.Contains(DPoPProofs.NonceHeader) &&
        (TryParse(response) is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var e) &&
         e.ValueKind == JsonValueKind.String && e.GetString() == "use_dpop_nonce" ||
         response.Headers.TryGetValues("WWW-Authenticate", out var challenges) && DPoPProofs.AsksForNonce(challenges));

    /// <summary>
    /// The error codes a token endpoint may answer that are registered (RFC 6749 5.2, RFC 8628 3.5, RFC 8693 2.2.2,
    /// RFC 9449 and the authorization endpoint's own two); only these are repeated, anything else could be an echo.
    /// </summary>
    private static readonly HashSet<string> RegisteredErrors = new(StringComparer.Ordinal)
    {
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
        "invalid_scope", "authorization_pending", "slow_down", "access_denied", "expired_token", "invalid_target",
        "invalid_dpop_proof", "use_dpop_nonce", "server_error", "temporarily_unavailable",
    };

    /// <summary>An <c>application/x-www-form-urlencoded</c> answer as a JSON object of its fields (the last of a repeated name wins).</summary>
    private static JsonElement? TryParseForm(NetResponse response)
    {
        if (response.Body.IsEmpty || response.Body.Span[0] is (byte)'{' or (byte)'[')
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(response.Body.Span).Trim();
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var name = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            fields[name] = value;
        }

        return fields.Count == 0 ? null : JsonSerializer.SerializeToElement(fields);
    }

    /// <summary>A plain-text answer: the whole body (trimmed) is the access token.</summary>
    private static JsonElement? TextAnswer(NetResponse response)
    {
        var text = Encoding.UTF8.GetString(response.Body.Span).Trim();
        return text.Length == 0 ? null : JsonSerializer.SerializeToElement(new Dictionary<string, string> { [TextTokenKey] = text });
    }

    /// <summary>The field a plain-text answer's token is read from.</summary>
    public const string TextTokenKey = "access_token";

    private static JsonElement? TryParse(NetResponse response)
    {
        if (response.Body.IsEmpty)
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(response.Body.Span);
            return JsonElement.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement? Find(JsonElement root, string dottedPath)
    {
        if (string.IsNullOrEmpty(dottedPath))
        {
            return null;
        }

        var current = root;
        foreach (var part in dottedPath.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return null;
            }
        }

        return current.ValueKind == JsonValueKind.Null ? null : current;
    }

    private static ResponseFormatException Malformed(NetRequest request, string problem) =>
        new(new NetRequestInfo(request.Client, request.Method.Method, "token endpoint", 1), problem, null);
}

/// <summary>A refresh endpoint of the API, described in configuration.</summary>
internal sealed class EndpointRefresher(EndpointRefreshSettings settings, bool dpop = false) : ITokenRefresher
{
    public bool NeedsSession => true;

    public async Task<TokenSet> RefreshAsync(TokenRefreshContext context, CancellationToken cancellationToken)
    {
        var current = context.Current ?? throw new TokenRejectedException("there are no tokens to refresh (sign in first).");
        var fields = settings.Body.Select(f => new KeyValuePair<string, string>(f.Key, f.Value
            .Replace("{refresh_token}", current.RefreshToken ?? string.Empty, StringComparison.Ordinal)
            .Replace("{access_token}", current.AccessToken, StringComparison.Ordinal))).ToList();
        NetContent? content = settings.Method == "GET" ? null
            : settings.FormBody ? NetContent.Form(fields)
            : NetContent.Json(fields.ToDictionary(f => f.Key, f => f.Value));
        var request = new NetRequest(context.TokenClient, new HttpMethod(settings.Method), settings.Path) { Content = content };
        var body = await TokenRefreshers.SendAsync(context, request, cancellationToken, settings.AnswerFormat, dpop).ConfigureAwait(false);
        return settings.AnswerFormat == TokenAnswerFormat.Text
            ? TokenRefreshers.ReadTokens(request, body, TokenRefreshers.TextTokenKey, string.Empty, string.Empty, current, DateTimeOffset.UtcNow)
            : TokenRefreshers.ReadTokens(request, body, settings.AccessTokenPath, settings.RefreshTokenPath,
                settings.ExpiresInPath, current, DateTimeOffset.UtcNow);
    }
}

/// <summary>OAuth 2.0 token endpoint: the <c>refresh_token</c> grant or the <c>client_credentials</c> grant.</summary>
internal sealed class OAuthRefresher(OAuthSettings settings, bool clientCredentials, bool dpop = false) : ITokenRefresher
{
    public bool NeedsSession => !clientCredentials;

    public async Task<TokenSet> RefreshAsync(TokenRefreshContext context, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>>();
        if (clientCredentials)
        {
            form.Add(new("grant_type", "client_credentials"));
        }
        else
        {
            var refreshToken = context.Current?.RefreshToken
                ?? throw new TokenRejectedException("the session has no refresh token (sign in first).");
            form.Add(new("grant_type", "refresh_token"));
            form.Add(new("refresh_token", refreshToken));
        }

        if (!string.IsNullOrEmpty(settings.Scope))
        {
            form.Add(new("scope", settings.Scope));
        }

        var request = new NetRequest(context.TokenClient, HttpMethod.Post, settings.TokenEndpoint)
            .WithHeader("Accept", "application/json");
        if (string.IsNullOrEmpty(settings.ClientId))
        {
            // A refresh_token grant at an endpoint that needs no client authentication: no client_id at all.
        }
        else if (settings.BasicAuthentication && !string.IsNullOrEmpty(settings.ClientSecret))
        {
            // RFC 6749 2.3.1: form-urlencode id and secret, then Basic.
            var raw = Uri.EscapeDataString(settings.ClientId) + ":" + Uri.EscapeDataString(settings.ClientSecret);
            request = request.WithHeader("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(raw)));
        }
        else
        {
            form.Add(new("client_id", settings.ClientId));
            if (!string.IsNullOrEmpty(settings.ClientSecret))
            {
                form.Add(new("client_secret", settings.ClientSecret));
            }
        }

        request = request.WithContent(NetContent.Form(form));
        var body = await TokenRefreshers.SendAsync(context, request, cancellationToken, dpop: dpop).ConfigureAwait(false);
        return TokenRefreshers.ReadTokens(request, body, "access_token", "refresh_token", "expires_in",
            clientCredentials ? null : context.Current, DateTimeOffset.UtcNow);
    }
}

/// <summary>A refresher the application supplies.</summary>
internal sealed class DelegateRefresher(Func<TokenRefreshContext, CancellationToken, Task<TokenSet>> refresh) : ITokenRefresher
{
    public bool NeedsSession => false;

    public Task<TokenSet> RefreshAsync(TokenRefreshContext context, CancellationToken cancellationToken) =>
        refresh(context, cancellationToken);
}
