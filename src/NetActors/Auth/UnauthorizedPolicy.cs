using System.Text.RegularExpressions;

namespace NetActors.Auth;

/// <summary>What a request does after a 401 for the bearer token it carried.</summary>
internal enum UnauthorizedVerdict
{
    /// <summary>Ask the realm for a token newer than the one that failed (it refreshes once per version).</summary>
    Refresh,

    /// <summary>A newer token is already at hand: retry with it, no refresh.</summary>
    RetryWithCurrent,

    /// <summary>The 401 is about this request, not the token: fail with <c>UnauthorizedException</c>, no refresh.</summary>
    Fail,
}

/// <summary>The decision about one 401.</summary>
/// <param name="Verdict">What the request does.</param>
/// <param name="MarkRejected">Whether the token version is treated as rejected (not sent again, refreshed).</param>
/// <param name="WithdrawVouch">
/// Whether the version stops counting as vouched for: a bare 401 for a token the server accepted earlier fails that
/// request, and the next one refreshes unless a 2xx vouches for the token again in between.
/// </param>
/// <param name="Why">In words, for the log.</param>
internal readonly record struct UnauthorizedDecision(UnauthorizedVerdict Verdict, bool MarkRejected, bool WithdrawVouch, string Why);

/// <summary>
/// Decides what a 401 means, without actor state. A refresh only for a 401 a refresh can cure: an
/// <c>insufficient_scope</c> challenge (RFC 6750), a 401 for a token the server is meanwhile accepting on other
/// requests (vouched for with a 2xx), or the second 401 of a request that was retried with a fresher token, is an
/// answer about that request: it fails without a refresh and without marking the token rejected.
/// <c>invalid_token</c>, a bare challenge for a token nothing vouched for, or a 401 without any challenge, gets the one
/// refresh per version.
/// </summary>
internal static partial class UnauthorizedPolicy
{
    /// <param name="challenges">The response's <c>WWW-Authenticate</c> values.</param>
    /// <param name="vouched">Whether a 2xx vouched for the attempt's token version (and no bare 401 withdrew it since).</param>
    /// <param name="retriedWithFresherToken">Whether this attempt was already the request's retry with a fresher token.</param>
    /// <param name="newerTokenUsable">Whether a token newer than the attempt's is at hand.</param>
    public static UnauthorizedDecision Decide(IEnumerable<string> challenges, bool vouched, bool retriedWithFresherToken,
        bool newerTokenUsable)
    {
        if (retriedWithFresherToken)
        {
            // Never an auth loop; and a fresh token refused again says nothing against the token itself.
            return new(UnauthorizedVerdict.Fail, MarkRejected: false, WithdrawVouch: false,
                "401 again after a retry with a fresher token");
        }

        var challenged = false;
        string? error = null;
        foreach (var value in challenges)
        {
            challenged = true;
            error ??= ErrorOf([value]);
        }

        if (error == "insufficient_scope")
        {
            return new(UnauthorizedVerdict.Fail, false, false, "insufficient_scope: the token lacks a scope for this request");
        }

        // A 401 without any challenge says nothing either way (servers that omit it often mean an expired or
        // revoked token): it refreshes once per version, as an invalid_token would.
        if (challenged && error != "invalid_token" && vouched)
        {
            return new(UnauthorizedVerdict.Fail, false, WithdrawVouch: true,
                "401 for a token the server accepted on other requests");
        }

        return newerTokenUsable
            ? new(UnauthorizedVerdict.RetryWithCurrent, true, false, "401; a newer token is at hand")
            : new(UnauthorizedVerdict.Refresh, true, false, error is null ? "401" : RegisteredErrors.Contains(error) ? "401 " + error : "401 (an unregistered error code)");
    }

    /// <summary>
    /// The challenge error codes that are registered (RFC 6750 3.1, RFC 9449 7.1); only these are repeated in a
    /// reason (messages, logs), so a server that echoes a secret in its challenge does not get it logged.
    /// </summary>
    private static readonly HashSet<string> RegisteredErrors = new(StringComparer.Ordinal)
    {
        "invalid_request", "invalid_token", "insufficient_scope", "invalid_dpop_proof", "use_dpop_nonce",
    };

    /// <summary>The <c>error</c> parameter of the first Bearer or DPoP challenge that has one, or null.</summary>
    public static string? ErrorOf(IEnumerable<string> challenges)
    {
        foreach (var value in challenges)
        {
            if (ErrorParameter().Match(value) is { Success: true } match)
            {
                return match.Groups["error"].Value.ToLowerInvariant();
            }
        }

        return null;
    }

    [GeneratedRegex("""(?:^|[\s,])error\s*=\s*"?(?<error>[A-Za-z0-9_\-]+)"?""", RegexOptions.CultureInvariant)]
    private static partial Regex ErrorParameter();
}
