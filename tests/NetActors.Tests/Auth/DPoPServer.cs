using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Auth;

/// <summary>
/// An OAuth server with DPoP-bound tokens (RFC 9449) on a test upstream, verifying every proof as a real one must:
/// the ES256 signature against the proof's own JWK, <c>typ</c>, <c>htm</c>, <c>htu</c> (no query), <c>iat</c>, a
/// <c>jti</c> never seen before, <c>ath</c> on resource requests, the token's binding to the proof key's thumbprint,
/// and the current nonce when it demands one. Its token endpoint takes the rotating <c>refresh_token</c> grant.
/// </summary>
internal sealed class DPoPServer
{
    private readonly ConcurrentDictionary<string, string> _tokenKeys = new(StringComparer.Ordinal);   // access token -> jkt
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expires = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _liveRefresh = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _jtis = new(StringComparer.Ordinal);
    private int _n;
    private int _refreshes;
    private int _invalidProofs;
    private int _resourceOk;
    private int _nonceChallenges;

    /// <summary>When set, proofs must carry this nonce (resource server and token endpoint alike).</summary>
    public string? Nonce { get; set; }

    public int Refreshes => Volatile.Read(ref _refreshes);

    public int InvalidProofs => Volatile.Read(ref _invalidProofs);

    public int ResourceOk => Volatile.Read(ref _resourceOk);

    public int NonceChallenges => Volatile.Read(ref _nonceChallenges);

    /// <summary>Every proof's jti, counted once each: a repeat is an invalid proof.</summary>
    public int DistinctJtis => _jtis.Count;

    public ConcurrentQueue<string> Problems { get; } = new();

    public string IssueRefresh()
    {
        var refresh = "rt-" + Interlocked.Increment(ref _n);
        _liveRefresh[refresh] = true;
        return refresh;
    }

    /// <summary>An access token bound to the key with thumbprint <paramref name="jkt"/>, as a sign-in would get.</summary>
    public string IssueAccess(string jkt, bool expired)
    {
        var access = "dpop-at-" + Interlocked.Increment(ref _n);
        _tokenKeys[access] = jkt;
        _expires[access] = expired ? DateTimeOffset.UtcNow.AddMinutes(-1) : DateTimeOffset.UtcNow.AddHours(1);
        return access;
    }

    /// <summary>The RFC 7638 thumbprint of a P-256 key.</summary>
    public static string Thumbprint(ECDsa key)
    {
        var q = key.ExportParameters(false).Q;
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{Base64Url.EncodeToString(q.X)}\",\"y\":\"{Base64Url.EncodeToString(q.Y)}\"}}")));
    }

    /// <summary>Expires every access token issued so far.</summary>
    public void ExpireAll()
    {
        foreach (var key in _expires.Keys)
        {
            _expires[key] = DateTimeOffset.UtcNow.AddMinutes(-1);
        }
    }

    public void Install(TestUpstream upstream)
    {
        upstream.Map("/oauth/token", async ctx =>
        {
            var form = await ctx.Request.ReadFormAsync();
            var jkt = Verify(ctx, accessToken: null, out var problem);
            if (jkt is null)
            {
                await Reject(ctx, 400, problem!, tokenEndpoint: true);
                return;
            }

            if (form["grant_type"] != "refresh_token" || !_liveRefresh.TryRemove(form["refresh_token"].ToString(), out _))
            {
                ctx.Response.StatusCode = 400;
                await ctx.Response.WriteAsync("{\"error\":\"invalid_grant\"}");
                return;
            }

            Interlocked.Increment(ref _refreshes);
            var access = "dpop-at-" + Interlocked.Increment(ref _n);
            _tokenKeys[access] = jkt;
            _expires[access] = DateTimeOffset.UtcNow.AddHours(1);
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(
                $"{{\"access_token\":\"{access}\",\"token_type\":\"DPoP\",\"expires_in\":3600,\"refresh_token\":\"{IssueRefresh()}\"}}");
        });
        upstream.Map("/api/*", async ctx =>
        {
            var header = ctx.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("DPoP ", StringComparison.Ordinal))
            {
                await Reject(ctx, 401, "not a DPoP token: " + header.Split(' ')[0], tokenEndpoint: false);
                return;
            }

            var token = header[5..];
            var jkt = Verify(ctx, token, out var problem);
            if (jkt is null)
            {
                await Reject(ctx, 401, problem!, tokenEndpoint: false);
                return;
            }

            if (!_tokenKeys.TryGetValue(token, out var bound) || !_expires.TryGetValue(token, out var until) || DateTimeOffset.UtcNow >= until)
            {
                ctx.Response.StatusCode = 401;
                ctx.Response.Headers.WWWAuthenticate = "DPoP error=\"invalid_token\", algs=\"ES256\"";
                return;
            }

            if (bound != jkt)
            {
                await Reject(ctx, 401, "the token is bound to another key", tokenEndpoint: false);
                return;
            }

            Interlocked.Increment(ref _resourceOk);
            await TestUpstream.Write(ctx, 200, "{\"ok\":true}");
        });
    }

    private async Task Reject(HttpContext ctx, int status, string problem, bool tokenEndpoint)
    {
        if (problem == "use_dpop_nonce")
        {
            Interlocked.Increment(ref _nonceChallenges);
            ctx.Response.Headers["DPoP-Nonce"] = Nonce;
            ctx.Response.StatusCode = status;
            if (tokenEndpoint)
            {
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync("{\"error\":\"use_dpop_nonce\",\"error_description\":\"nonce required\"}");
            }
            else
            {
                ctx.Response.Headers.WWWAuthenticate = "DPoP error=\"use_dpop_nonce\", error_description=\"nonce required\"";
            }

            return;
        }

        Interlocked.Increment(ref _invalidProofs);
        Problems.Enqueue(problem);
        ctx.Response.StatusCode = status;
        ctx.Response.Headers.WWWAuthenticate = "DPoP error=\"invalid_dpop_proof\"";
    }

    /// <summary>The proof key's thumbprint when the request's proof is valid, else null and the problem.</summary>
    private string? Verify(HttpContext ctx, string? accessToken, out string? problem)
    {
        problem = null;
        var proofs = ctx.Request.Headers["DPoP"];
        if (proofs.Count != 1)
        {
            problem = $"{proofs.Count} DPoP headers";
            return null;
        }

        var parts = proofs[0]!.Split('.');
        if (parts.Length != 3)
        {
            problem = "not a JWS";
            return null;
        }

        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var h = header.RootElement;
            var p = payload.RootElement;
            if (h.GetProperty("typ").GetString() != "dpop+jwt" || h.GetProperty("alg").GetString() != "ES256")
            {
                problem = "typ or alg";
                return null;
            }

            var jwk = h.GetProperty("jwk");
            if (jwk.TryGetProperty("d", out _))
            {
                problem = "a private key in the proof";
                return null;
            }

            var x = jwk.GetProperty("x").GetString()!;
            var y = jwk.GetProperty("y").GetString()!;
            using var key = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64Url.DecodeFromChars(x), Y = Base64Url.DecodeFromChars(y) },
            });
            if (!key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
                    HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                problem = "signature";
                return null;
            }

            var expectedHtu = $"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.PathBase}{ctx.Request.Path}";
            if (p.GetProperty("htm").GetString() != ctx.Request.Method || p.GetProperty("htu").GetString() != expectedHtu)
            {
                problem = $"htm/htu {p.GetProperty("htm")} {p.GetProperty("htu")} for {ctx.Request.Method} {expectedHtu}";
                return null;
            }

            var iat = DateTimeOffset.FromUnixTimeSeconds(p.GetProperty("iat").GetInt64());
            if ((DateTimeOffset.UtcNow - iat).Duration() > TimeSpan.FromSeconds(60))
            {
                problem = "iat";
                return null;
            }

            if (!_jtis.TryAdd(p.GetProperty("jti").GetString()!, true))
            {
                problem = "jti reused";
                return null;
            }

            if (accessToken is not null)
            {
                var ath = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
                if (!p.TryGetProperty("ath", out var sent) || sent.GetString() != ath)
                {
                    problem = "ath";
                    return null;
                }
            }
            else if (p.TryGetProperty("ath", out _))
            {
                problem = "ath on a token request";
                return null;
            }

            if (Nonce is { } nonce && (!p.TryGetProperty("nonce", out var n) || n.GetString() != nonce))
            {
                problem = "use_dpop_nonce";
                return null;
            }

            return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(
                $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{x}\",\"y\":\"{y}\"}}")));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or CryptographicException or InvalidOperationException)
        {
            problem = "unreadable: " + e.GetType().Name;
            return null;
        }
    }
}
