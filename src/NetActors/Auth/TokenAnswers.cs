using System.Globalization;
using NetActors.Configuration;
using NetActors.Errors;

namespace NetActors.Auth;

/// <summary>What a refresh attempt's outcome means for the realm.</summary>
internal enum RefreshOutcome
{
    /// <summary>Usable tokens.</summary>
    Success,

    /// <summary>The server rejected the refresh (<c>invalid_grant</c>, 400/401/403): the session ends.</summary>
    Rejected,

    /// <summary>
    /// An answer that can never become a token (unparseable, an impossible lifetime, too large, a token that cannot
    /// be sent): the waiting requests fail at once, the session is kept, and the same refresh token is not presented
    /// again.
    /// </summary>
    Unusable,

    /// <summary>The token endpoint could not be reached or failed (network, timeout, 429, 5xx): retried with backoff.</summary>
    Transient,
}

/// <summary>
/// Judges each token endpoint answer once, with no actor state: whether it is a token, and the lifetime the realm
/// believes (clamped to a sane range). Plain and synchronous, so the TokenActor only acts on the verdict.
/// </summary>
internal static class TokenAnswers
{
    /// <summary>Beyond this a lifetime is not a lifetime but a broken server (and beyond what time arithmetic holds).</summary>
    public static TimeSpan MaxPlausibleLifetime => RealmSettings.MaxPlausibleLifetime;

    /// <summary>The meaning of a refresher's failure.</summary>
    public static RefreshOutcome Classify(Exception? error) => Unwrap(error) switch
    {
        TokenRejectedException => RefreshOutcome.Rejected,
        // An answer too large for the limit will be as large next time; an answer that could not be read the same.
        ResponseFormatException or ResponseTooLargeException => RefreshOutcome.Unusable,
        // A delegate that computed an impossible lifetime itself, or parsed garbage.
        ArgumentOutOfRangeException or OverflowException or FormatException or System.Text.Json.JsonException =>
            RefreshOutcome.Unusable,
        _ => RefreshOutcome.Transient,
    };

    /// <summary>
    /// The tokens the realm adopts, or what is wrong with them (never a value). The expiry is clamped to
    /// <paramref name="maxLifetime"/> from <paramref name="now"/>; an expiry that has already passed is unusable.
    /// </summary>
    public static (TokenSet? Tokens, string? Problem) Judge(TokenSet tokens, DateTimeOffset now, TimeSpan maxLifetime)
    {
        if (tokens.Problem() is { } problem)
        {
            return (null, "the refresher returned tokens that cannot be sent: " + problem);
        }

        if (tokens.EffectiveExpiry is not { } expiry)
        {
            return (tokens, null);
        }

        if (expiry <= now)
        {
            return (null, "the token endpoint returned a token that is already expired (check the clocks).");
        }

        return (Clamp(tokens, now, maxLifetime), null);
    }

    /// <summary>The tokens with an expiry no later than <paramref name="maxLifetime"/> from <paramref name="now"/>.</summary>
    public static TokenSet Clamp(TokenSet tokens, DateTimeOffset now, TimeSpan maxLifetime)
    {
        var latest = now + maxLifetime;
        return tokens.EffectiveExpiry is { } expiry && expiry > latest ? tokens with { ExpiresAt = latest } : tokens;
    }

    /// <summary>
    /// Reads an <c>expires_in</c> value: a finite, non-negative number of seconds no larger than
    /// <see cref="MaxPlausibleLifetime"/>. Null when it is not one.
    /// </summary>
    public static TimeSpan? Lifetime(double seconds) =>
        double.IsFinite(seconds) && seconds >= 0 && seconds <= MaxPlausibleLifetime.TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : null;

    /// <summary><see cref="Lifetime(double)"/> of a text value (invariant culture).</summary>
    public static TimeSpan? Lifetime(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? Lifetime(seconds) : null;

    /// <summary>The single exception inside a task's <see cref="AggregateException"/>, or the error itself.</summary>
    public static Exception? Unwrap(Exception? error) =>
        error is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerException : error;
}
