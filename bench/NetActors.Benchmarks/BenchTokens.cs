using System.Security.Cryptography;
using Microsoft.Extensions.Primitives;

namespace NetActors.Benchmarks;

/// <summary>
/// The server's side of bearer auth, kept cheap: an Authorization header is compared, as a whole string, to a
/// handful of valid ones. Two sessions:
/// <list type="bullet">
/// <item>the bench session, one access token valid for the whole run, checked on /small and /slow;</item>
/// <item>the storm session, whose access tokens the scenario expires before each round and which
/// POST /auth/refresh renews with rotating refresh tokens (a used refresh token is rejected).</item>
/// </list>
/// </summary>
internal sealed class BenchTokens
{
    /// <summary>How many storm access tokens stay valid at once (the newest ones).</summary>
    private const int MaxValidStormTokens = 4;

    private readonly Lock _lock = new();
    private readonly string _benchHeader;
    private volatile string[] _stormHeaders = [];
    private string? _stormRefreshToken;
    private int _refreshes;
    private int _rejectedRefreshes;
    private int _stormUnauthorized;
    private long _firstUnauthorizedAt;
    private long _lastUnauthorizedAt;
    private long _refreshedAt;
    private long _firstAuthorizedAt;
    private long _lastAuthorizedAt;

    public BenchTokens()
    {
        BenchAccessToken = NewToken();
        _benchHeader = "Bearer " + BenchAccessToken;
    }

    /// <summary>The bench session's access token, valid for the whole run.</summary>
    public string BenchAccessToken { get; }

    /// <summary>
    /// The bench session's refresh token. The server never accepts it: the bench session lasts longer than
    /// the run, so a refresh would be a bug, and would show as failed requests.
    /// </summary>
    public string BenchRefreshToken { get; } = NewToken();

    /// <summary>Refreshes granted since the last <see cref="StartStormSession"/>.</summary>
    public int Refreshes => Volatile.Read(ref _refreshes);

    /// <summary>Refreshes rejected (used or unknown refresh token) since the last <see cref="StartStormSession"/>.</summary>
    public int RejectedRefreshes => Volatile.Read(ref _rejectedRefreshes);

    /// <summary>401s answered by /storm since the last <see cref="StartStormSession"/>.</summary>
    public int StormUnauthorized => Volatile.Read(ref _stormUnauthorized);

    /// <summary>Whether the request carries the bench session's token (/small, /slow).</summary>
    public bool IsBenchAuthorized(StringValues authorization) =>
        authorization.Count == 1 && string.Equals(authorization[0], _benchHeader, StringComparison.Ordinal);

    /// <summary>Whether the request carries a current storm access token (/storm); counts the 401s.</summary>
    public bool IsStormAuthorized(StringValues authorization)
    {
        if (authorization.Count == 1)
        {
            var header = authorization[0];
            foreach (var valid in _stormHeaders)
            {
                if (string.Equals(header, valid, StringComparison.Ordinal))
                {
                    Mark(ref _firstAuthorizedAt, ref _lastAuthorizedAt);
                    return true;
                }
            }
        }

        Interlocked.Increment(ref _stormUnauthorized);
        Mark(ref _firstUnauthorizedAt, ref _lastUnauthorizedAt);
        return false;
    }

    /// <summary>
    /// When, as <see cref="System.Diagnostics.Stopwatch"/> timestamps (0: never), this storm session's /storm
    /// requests were first and last refused and answered, and its refresh was granted: where a round's time goes.
    /// </summary>
    public (long FirstUnauthorized, long LastUnauthorized, long Refreshed, long FirstAuthorized, long LastAuthorized) StormTimeline =>
        (Volatile.Read(ref _firstUnauthorizedAt), Volatile.Read(ref _lastUnauthorizedAt), Volatile.Read(ref _refreshedAt),
            Volatile.Read(ref _firstAuthorizedAt), Volatile.Read(ref _lastAuthorizedAt));

    private static void Mark(ref long first, ref long last)
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        Interlocked.CompareExchange(ref first, now, 0);
        Volatile.Write(ref last, now);
    }

    /// <summary>
    /// Expires every storm access token, issues a new refresh token and resets the counters. Returns an access
    /// token the server never accepted (what a client whose token expired would still hold) and the refresh token.
    /// </summary>
    public (string StaleAccessToken, string RefreshToken) StartStormSession()
    {
        lock (_lock)
        {
            _stormHeaders = [];
            _stormRefreshToken = NewToken();
            Volatile.Write(ref _refreshes, 0);
            Volatile.Write(ref _rejectedRefreshes, 0);
            Volatile.Write(ref _stormUnauthorized, 0);
            _firstUnauthorizedAt = _lastUnauthorizedAt = _refreshedAt = _firstAuthorizedAt = _lastAuthorizedAt = 0;
            return (NewToken(), _stormRefreshToken);
        }
    }

    /// <summary>
    /// Redeems a storm refresh token: a new access token (the oldest valid one beyond the few kept is dropped)
    /// and a new refresh token; null when the refresh token is not the current one (used, or unknown).
    /// </summary>
    public (string AccessToken, string RefreshToken)? Refresh(string? refreshToken)
    {
        lock (_lock)
        {
            if (refreshToken is null || _stormRefreshToken is null ||
                !string.Equals(refreshToken, _stormRefreshToken, StringComparison.Ordinal))
            {
                _rejectedRefreshes++;
                return null;
            }

            var access = NewToken();
            _stormRefreshToken = NewToken();
            _stormHeaders = ["Bearer " + access, .. _stormHeaders.Take(MaxValidStormTokens - 1)];
            _refreshes++;
            Volatile.Write(ref _refreshedAt, System.Diagnostics.Stopwatch.GetTimestamp());
            return (access, _stormRefreshToken);
        }
    }

    /// <summary>An opaque token: 32 hex digits (no JWT, so a client cannot tell when it expires).</summary>
    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
