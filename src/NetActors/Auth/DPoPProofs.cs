using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NetActors.Configuration;

namespace NetActors.Auth;

/// <summary>
/// Sender-constrained tokens (DPoP, RFC 9449) for one realm: its key, a fresh proof per request and per attempt, and
/// the nonce each origin asked for. Thread-safe: the host actors of the realm's origins share it. Proofs are ES256 JWTs
/// built with the framework's <see cref="ECDsa"/> and <see cref="System.Text.Json"/>; no JWT library is needed for
/// these few claims.
/// </summary>
internal sealed class DPoPProofs : IDisposable
{
    /// <summary>The header a proof travels in.</summary>
    public const string Header = "DPoP";

    /// <summary>The header a server sends a nonce in.</summary>
    public const string NonceHeader = "DPoP-Nonce";

    private readonly ECDsa _key;
    private readonly byte[] _headerSegment;
    private readonly ConcurrentDictionary<string, string> _nonces = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    /// <param name="key">A P-256 key (ES256); the realm owns it from here on.</param>
    /// <param name="time">The clock for <c>iat</c>.</param>
    public DPoPProofs(ECDsa key, TimeProvider? time = null)
    {
        if (!RealmSettings.IsP256(key))
        {
            throw new ArgumentException("a DPoP key must be an ECDsa P-256 key (ES256).", nameof(key));
        }

        _key = key;
        _time = time ?? TimeProvider.System;
        var p = key.ExportParameters(includePrivateParameters: false);
        var x = Base64Url.EncodeToString(p.Q.X);
        var y = Base64Url.EncodeToString(p.Q.Y);
        // RFC 7638: the thumbprint hashes the required members in lexicographic order, without whitespace.
        Thumbprint = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{x}\",\"y\":\"{y}\"}}")));
        var header = $"{{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{x}\",\"y\":\"{y}\"}}}}";
        _headerSegment = Encoding.ASCII.GetBytes(Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)));
    }

    /// <summary>The JWK SHA-256 thumbprint of the public key (RFC 7638), what a server binds tokens to (<c>cnf.jkt</c>).</summary>
    public string Thumbprint { get; }

    /// <summary>
    /// A proof for one attempt: <c>htm</c>, <c>htu</c> (scheme, host, port and path; no query, no fragment), <c>iat</c>,
    /// a unique <c>jti</c>, <c>ath</c> when the attempt carries <paramref name="accessToken"/>, and the nonce the
    /// target's origin asked for, if any.
    /// </summary>
    public string Create(string method, Uri target, string? accessToken)
    {
        var htu = target.GetLeftPart(UriPartial.Path);
        var nonce = _nonces.GetValueOrDefault(OriginOf(target));
        var payload = new Dictionary<string, object>(6)
        {
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["htm"] = method,
            ["htu"] = htu,
            ["iat"] = _time.GetUtcNow().ToUnixTimeSeconds(),
        };
        if (accessToken is not null)
        {
            payload["ath"] = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
        }

        if (nonce is not null)
        {
            payload["nonce"] = nonce;
        }

        var payloadSegment = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload));
        var signingInput = new byte[_headerSegment.Length + 1 + payloadSegment.Length];
        _headerSegment.CopyTo(signingInput, 0);
        signingInput[_headerSegment.Length] = (byte)'.';
        Encoding.ASCII.GetBytes(payloadSegment, signingInput.AsSpan(_headerSegment.Length + 1));
        var signature = _key.SignData(signingInput, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return Encoding.ASCII.GetString(signingInput) + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// Puts this attempt's proof on <paramref name="message"/>: with the realm's token (<paramref name="authorization"/>
    /// is <c>DPoP &lt;token&gt;</c>) a proof with <c>ath</c>; on a token request (a refresher set a <c>DPoP</c> header,
    /// whatever its value) a proof without. Anything else is left alone.
    /// </summary>
    public void Attach(HttpRequestMessage message, string? authorization)
    {
        string? token = null;
        if (authorization is not null && authorization.StartsWith("DPoP ", StringComparison.Ordinal))
        {
            token = authorization[5..];
        }
        else if (!message.Headers.Contains(Header))
        {
            return;
        }

        message.Headers.Remove(Header);
        message.Headers.TryAddWithoutValidation(Header, Create(message.Method.Method, message.RequestUri!, token));
    }

    /// <summary>
    /// Remembers the nonce a response of <paramref name="target"/>'s origin carries (a server may send a new one with
    /// any response). True when it changed.
    /// </summary>
    public bool Remember(Uri target, IEnumerable<string>? nonces)
    {
        if (nonces?.LastOrDefault() is not { Length: > 0 and <= 512 } nonce || nonce.Any(c => c is < '!' or > '~'))
        {
            return false; // absent, or not a NQCHAR token a proof could carry
        }

        var origin = OriginOf(target);
        var previous = _nonces.GetValueOrDefault(origin);
        _nonces[origin] = nonce;
        return previous != nonce;
    }

    /// <summary>Whether <paramref name="challenges"/> (a 401's <c>WWW-Authenticate</c>) ask for a DPoP nonce.</summary>
    public static bool AsksForNonce(IEnumerable<string> challenges) =>
        UnauthorizedPolicy.ErrorOf(challenges.Where(c => c.StartsWith("DPoP", StringComparison.OrdinalIgnoreCase))) == "use_dpop_nonce";

    private static string OriginOf(Uri uri) => uri.GetLeftPart(UriPartial.Authority);

    public void Dispose() => _key.Dispose();
}
