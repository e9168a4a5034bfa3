using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using NetActors.Auth;

namespace NetActors.Tests.Infrastructure;

/// <summary>
/// The auth side of a test upstream: issues access tokens (JWT-shaped when asked) and refresh tokens, rotates
/// refresh tokens (a used one is rejected with invalid_grant), expires access tokens on its own clock, checks
/// bearer tokens on protected paths, and counts refresh calls and 401s. Its behaviour is scripted per test.
/// </summary>
public sealed class TokenServer
{
    private readonly object _lock = new();
    private readonly HashSet<string> _usedRefreshTokens = [];
    private readonly Dictionary<string, DateTimeOffset> _validAccess = new(StringComparer.Ordinal);
    private string _access = "";
    private string _refresh = "";
    private DateTimeOffset _accessExpires;
    private int _issued;
    private int _refreshCalls;
    private int _unauthorized;
    private int _authorized;
    private int _familyRevocations;

    /// <summary>Lifetime of issued access tokens (server side).</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Whether to tell the client the lifetime (expires_in) in refresh answers.</summary>
    public bool SendExpiresIn { get; set; } = true;

    /// <summary>Whether access tokens are JWT-shaped with an exp claim.</summary>
    public bool JwtTokens { get; set; }

    /// <summary>Whether each refresh issues a new refresh token and rejects the used one.</summary>
    public bool Rotate { get; set; } = true;

    /// <summary>
    /// With <see cref="Rotate"/>: a used refresh token presented again revokes the whole token family (RFC 9700
    /// §4.14.2): the current refresh token is rejected from then on too.
    /// </summary>
    public bool RevokeFamilyOnReuse { get; set; }

    /// <summary>How many times a reused refresh token revoked the family.</summary>
    public int FamilyRevocations => Volatile.Read(ref _familyRevocations);

    /// <summary>Awaited by the refresh endpoint before it answers (a slow token endpoint).</summary>
    public Func<HttpContext, Task>? BeforeRefresh { get; set; }

    /// <summary>When set, the refresh endpoint answers this instead of tokens (e.g. 503 while "unreachable").</summary>
    public Func<HttpContext, Task<bool>>? RefreshOverride { get; set; }

    /// <summary>Every bearer token seen on protected paths, in order.</summary>
    public List<string> BearersSeen { get; } = [];

    public int RefreshCalls => Volatile.Read(ref _refreshCalls);

    public int Unauthorized => Volatile.Read(ref _unauthorized);

    public int Authorized => Volatile.Read(ref _authorized);

    public string CurrentAccessToken
    {
        get
        {
            lock (_lock)
            {
                return _access;
            }
        }
    }

    /// <summary>Installs the refresh endpoint at <paramref name="refreshPath"/> and protects <paramref name="protectedPrefix"/>.</summary>
    public TokenServer Install(TestUpstream upstream, string refreshPath = "/auth/refresh", string protectedPrefix = "/api/*")
    {
        upstream.Map(refreshPath, RefreshAsync);
        upstream.Map(protectedPrefix, async ctx =>
        {
            if (!Check(ctx))
            {
                Interlocked.Increment(ref _unauthorized);
                ctx.Response.StatusCode = 401;
                ctx.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                return;
            }

            Interlocked.Increment(ref _authorized);
            if (ProtectedHandler is { } handler)
            {
                await handler(ctx);
                return;
            }

            await TestUpstream.Write(ctx, 200, "{\"ok\":true}");
        });
        return this;
    }

    /// <summary>What an authorized protected request gets (default: 200 {"ok":true}).</summary>
    public Func<HttpContext, Task>? ProtectedHandler { get; set; }

    /// <summary>Issues a session as a login would. When <paramref name="expired"/>, the access token is already expired on the server.</summary>
    public TokenSet SignIn(bool expired = false, bool tellExpiry = true)
    {
        lock (_lock)
        {
            IssueLocked();
            if (expired)
            {
                ExpireAllLocked();
            }

            return new TokenSet(_access, _refresh, tellExpiry ? _accessExpires : null);
        }
    }

    /// <summary>Expires the current access token on the server (the client does not know).</summary>
    public void ExpireNow()
    {
        lock (_lock)
        {
            ExpireAllLocked();
        }
    }

    private void ExpireAllLocked()
    {
        _accessExpires = DateTimeOffset.UtcNow.AddMinutes(-1);
        foreach (var key in _validAccess.Keys.ToList())
        {
            _validAccess[key] = _accessExpires;
        }
    }

    public bool Check(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        lock (_lock)
        {
            if (header.StartsWith("Bearer ", StringComparison.Ordinal))
            {
                BearersSeen.Add(header[7..]);
            }

            // Like a real server, every issued access token is honoured until its own expiry.
            return header.StartsWith("Bearer ", StringComparison.Ordinal) &&
                   _validAccess.TryGetValue(header[7..], out var expires) && DateTimeOffset.UtcNow < expires;
        }
    }

    private async Task RefreshAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _refreshCalls);
        if (ctx.Request.Headers.ContainsKey("Authorization") && ctx.Request.Headers.Authorization.ToString().StartsWith("Bearer"))
        {
            throw new InvalidOperationException("A refresh call carried a bearer token.");
        }

        if (BeforeRefresh is { } before)
        {
            await before(ctx);
        }

        if (RefreshOverride is { } over && await over(ctx))
        {
            return;
        }

        using var doc = await JsonDocument.ParseAsync(ctx.Request.Body);
        var presented = doc.RootElement.TryGetProperty("refresh_token", out var rt) ? rt.GetString() : null;
        string body;
        lock (_lock)
        {
            if (presented is null || presented != _refresh || (Rotate && _usedRefreshTokens.Contains(presented)))
            {
                if (Rotate && RevokeFamilyOnReuse && presented is not null && _usedRefreshTokens.Contains(presented))
                {
                    _familyRevocations++;
                    _refresh = "revoked-" + Guid.NewGuid().ToString("N");
                }

                ctx.Response.StatusCode = 400;
                body = "{\"error\":\"invalid_grant\"}";
            }
            else
            {
                if (Rotate)
                {
                    _usedRefreshTokens.Add(presented);
                }

                IssueLocked(keepRefresh: !Rotate);
                var expiresIn = SendExpiresIn ? $",\"expires_in\":{Lifetime.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "";
                body = $"{{\"access_token\":\"{_access}\",\"refresh_token\":\"{_refresh}\"{expiresIn}}}";
            }
        }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body);
    }

    private void IssueLocked(bool keepRefresh = false)
    {
        var n = ++_issued;
        _accessExpires = DateTimeOffset.UtcNow + Lifetime;
        _access = JwtTokens ? Jwt(n, _accessExpires) : $"access-{n}-{Guid.NewGuid():N}";
        _validAccess[_access] = _accessExpires;
        if (!keepRefresh || _refresh.Length == 0)
        {
            _refresh = $"refresh-{n}-{Guid.NewGuid():N}";
        }
    }

    public static string Jwt(int n, DateTimeOffset expires)
    {
        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{B64("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{B64($"{{\"sub\":\"user\",\"n\":{n},\"exp\":{expires.ToUnixTimeSeconds()}}}")}.sig{n}";
    }
}
