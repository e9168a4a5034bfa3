using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NetActors.Auth;

namespace NetActors.Host.Demo;

/// <summary>One refresh the token endpoint accepted: which access token it replaced, and how old that token was.</summary>
/// <param name="ReplacedGeneration">The generation of the access token replaced (0: the session the demo starts with).</param>
/// <param name="Age">How long the replaced token had been issued.</param>
/// <param name="Lifetime">The replaced token's lifetime.</param>
internal sealed record RefreshRecord(int ReplacedGeneration, TimeSpan Age, TimeSpan Lifetime);

/// <summary>
/// The demo upstream's identity provider, like a real one: short-lived JWT-shaped access tokens (HS256, with
/// <c>exp</c>, valid until then) and rotating refresh tokens. A refresh token can be used once; presenting a
/// used one is refresh-token reuse, which real IdPs answer with <c>invalid_grant</c>, and which is what parallel
/// refreshes for one expiry would cause. Every accepted refresh is recorded for the invariant checks.
/// </summary>
internal sealed class DemoTokens(TimeSpan lifetime, TimeProvider time)
{
    private static readonly string Header = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly object _lock = new();
    private readonly HashSet<string> _usedRefreshTokens = new(StringComparer.Ordinal);
    private readonly List<RefreshRecord> _refreshes = [];
    private readonly Dictionary<int, int> _callsByGeneration = [];
    private string _refreshToken = string.Empty;
    private int _generation;
    private DateTimeOffset _issuedAt;
    private int _reused;
    private int _rejected;

    /// <summary>Access-token lifetime.</summary>
    public TimeSpan Lifetime => lifetime;

    /// <summary>Accepted refreshes, in order.</summary>
    public IReadOnlyList<RefreshRecord> Refreshes
    {
        get
        {
            lock (_lock)
            {
                return _refreshes.ToList();
            }
        }
    }

    /// <summary>Refresh calls that presented the refresh token of <paramref name="generation"/>, accepted or not.</summary>
    public int CallsFor(int generation)
    {
        lock (_lock)
        {
            return _callsByGeneration.GetValueOrDefault(generation);
        }
    }

    /// <summary>Refresh calls that presented an already used refresh token (must stay 0).</summary>
    public int Reused => Volatile.Read(ref _reused);

    /// <summary>Refresh calls rejected for any reason (reuse included).</summary>
    public int Rejected => Volatile.Read(ref _rejected);

    /// <summary>
    /// The session a service holds at startup in the seed article: its access token is no longer accepted and
    /// the client does not know its expiry (as when a token store kept none), its refresh token is still good.
    /// </summary>
    public TokenSet StartSession()
    {
        lock (_lock)
        {
            _generation = 0;
            _issuedAt = time.GetUtcNow();
            _refreshToken = NewRefreshToken(0);
            return new TokenSet("revoked-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), _refreshToken);
        }
    }

    /// <summary>Whether <paramref name="bearer"/> is an access token this server issued that has not expired.</summary>
    public bool IsValid(string bearer)
    {
        var parts = bearer.Split('.');
        if (parts.Length != 3 ||
            !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(parts[2]), Encoding.ASCII.GetBytes(Sign(parts[0] + "." + parts[1]))))
        {
            return false;
        }

        try
        {
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            return payload.RootElement.GetProperty("exp").GetInt64() > time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Rotates: the current refresh token buys a new access token and a new refresh token, once. Null when the
    /// presented token is unknown or already used.
    /// </summary>
    public (string Access, string Refresh, int ExpiresIn)? Refresh(string? presented)
    {
        lock (_lock)
        {
            if (GenerationOf(presented) is { } presentedGeneration)
            {
                _callsByGeneration[presentedGeneration] = _callsByGeneration.GetValueOrDefault(presentedGeneration) + 1;
            }

            if (presented is null || presented != _refreshToken)
            {
                Interlocked.Increment(ref _rejected);
                if (presented is not null && _usedRefreshTokens.Contains(presented))
                {
                    Interlocked.Increment(ref _reused);
                }

                return null;
            }

            var now = time.GetUtcNow();
            _refreshes.Add(new RefreshRecord(_generation, now - _issuedAt, lifetime));
            _usedRefreshTokens.Add(presented);
            _generation++;
            _issuedAt = now;
            _refreshToken = NewRefreshToken(_generation);
            return (Jwt(_generation, now), _refreshToken, (int)Math.Ceiling(lifetime.TotalSeconds));
        }
    }

    private string Jwt(int generation, DateTimeOffset now)
    {
        // exp is rounded up so the server never considers a token expired before the client does.
        var exp = (long)Math.Ceiling((now + lifetime).ToUnixTimeMilliseconds() / 1000.0);
        var payload = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new
        {
            sub = "demo-user", gen = generation, iat = now.ToUnixTimeSeconds(), exp,
        }));
        var unsigned = Header + "." + payload;
        return unsigned + "." + Sign(unsigned);
    }

    private string Sign(string unsigned) => Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(unsigned)));

    private static int? GenerationOf(string? refreshToken) =>
        refreshToken is not null && refreshToken.StartsWith("rt", StringComparison.Ordinal) && refreshToken.IndexOf('-', StringComparison.Ordinal) is > 2 and var dash &&
        int.TryParse(refreshToken.AsSpan(2, dash - 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n
            : null;

    private static string NewRefreshToken(int generation) =>
        $"rt{generation}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}";
}
