using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Tests.Auth;

/// <summary>DPoP (RFC 9449) end to end against a Kestrel server that verifies every proof.</summary>
public sealed class DPoPTests
{
    private static async Task<(NetHost Net, DPoPServer Server, ECDsa Key)> StartAsync(TestUpstream upstream, string? nonce = null,
        bool expired = true, int maxConnections = 6)
    {
        var server = new DPoPServer { Nonce = nonce };
        server.Install(upstream);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithMaxConnections(maxConnections).WithQueueCapacity(5000)
            .WithBearerAuth(a => a.WithOAuthRefreshToken("/oauth/token").WithDPoP(key))));
        // The client does not know the token expired: every request of a burst finds out with a 401.
        await net.Client.SignInAsync("api", new TokenSet(server.IssueAccess(DPoPServer.Thumbprint(key), expired), server.IssueRefresh()));
        return (net, server, key);
    }

    [Fact]
    public async Task A_burst_of_1000_requests_with_an_expired_DPoP_bound_token_causes_one_refresh_and_every_proof_is_valid_and_unique()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var (net, server, key) = await StartAsync(upstream);
        await using var _ = net;
        using var __ = key;

        var responses = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/items/{i}?q=x"))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, server.Refreshes);
        Assert.Empty(server.Problems);
        Assert.Equal(0, server.InvalidProofs);
        var proofs = upstream.Seen.Where(r => r.Headers.ContainsKey("DPoP")).ToList();
        Assert.Equal(upstream.Seen.Count, proofs.Count);              // every request, token endpoint included, had a proof
        Assert.Equal(proofs.Count, proofs.Select(r => r.Headers["DPoP"]).Distinct().Count());
        Assert.Equal(proofs.Count, server.DistinctJtis);             // and each its own jti
        Assert.Equal(1000, server.ResourceOk);
    }

    [Fact]
    public async Task A_DPoP_nonce_challenge_from_a_resource_server_costs_one_extra_attempt_and_no_refresh()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var (net, server, key) = await StartAsync(upstream, nonce: "n-1", expired: false);
        await using var _ = net;
        using var __ = key;
        using var metrics = new MetricsCapture(net.Services);

        var first = await net.Client.SendAsync(NetRequest.Get("api", "/api/a"));
        var second = await net.Client.SendAsync(NetRequest.Get("api", "/api/b"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(2, first.Attempts);     // the challenge, then the proof with the nonce
        Assert.Equal(1, second.Attempts);    // the nonce is remembered for the origin
        Assert.Equal(1, server.NonceChallenges);
        Assert.Equal(0, server.Refreshes);
        Assert.Equal(0, server.InvalidProofs);
        Assert.Equal(0, metrics.Sum("netactors.client.unauthorized"));   // not an auth failure
    }

    [Fact]
    public async Task A_POST_without_an_idempotency_key_that_meets_a_DPoP_nonce_challenge_is_not_resent_and_the_next_one_carries_the_nonce()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var (net, server, key) = await StartAsync(upstream, nonce: "n-1", expired: false);
        await using var _ = net;
        using var __ = key;

        var refused = await Assert.ThrowsAsync<UnauthorizedException>(() =>
            net.Client.SendAsync(NetRequest.Post("api", "/api/orders", NetContent.Json(new { id = 1 }))));
        var next = await net.Client.SendAsync(NetRequest.Post("api", "/api/orders", NetContent.Json(new { id = 2 })));

        Assert.Contains("not resent", refused.Message);
        Assert.Equal(1, server.NonceChallenges); // the refused POST went once
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(1, next.Attempts);          // its proof carried the remembered nonce
        Assert.Equal(1, server.ResourceOk);
        Assert.Equal(0, server.Refreshes);
    }

    [Fact]
    public async Task A_DPoP_nonce_challenge_at_the_token_endpoint_is_answered_once_and_the_refresh_succeeds()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var server = new DPoPServer();
        server.Install(upstream);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress)
            .WithBearerAuth(a => a.WithOAuthRefreshToken("/oauth/token").WithDPoP(key))));
        await net.Client.SignInAsync("api", new TokenSet(server.IssueAccess(DPoPServer.Thumbprint(key), expired: true),
            server.IssueRefresh(), DateTimeOffset.UtcNow.AddMinutes(-1)));   // known expired: the refresh goes first
        server.Nonce = "token-nonce";

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, response.Attempts);
        Assert.Equal(1, server.Refreshes);
        Assert.Equal(1, server.NonceChallenges);
        Assert.Empty(server.Problems);
        Assert.Equal(2, upstream.Count("/oauth/token"));
    }

    public static TheoryData<string> KeysThatAreNotP256 => new()
    {
        // 256 bits, like P-256, but another curve: proofs would claim a P-256 public key that is not one.
        Convert.ToBase64String(ECDsa.Create(ECCurve.CreateFromFriendlyName("secp256k1")).ExportPkcs8PrivateKey()),
        Convert.ToBase64String(ECDsa.Create(ECCurve.NamedCurves.nistP384).ExportPkcs8PrivateKey()),
        "bm90IGEga2V5",
        "-----BEGIN EC PRIVATE KEY-----\\nnot base64\\n-----END EC PRIVATE KEY-----", // \\n: HOCON's escape
    };

    [Theory]
    [MemberData(nameof(KeysThatAreNotP256))]
    public void A_DPoP_key_that_is_not_P256_stops_startup_naming_the_key_and_not_showing_it(string keyText)
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString($$"""
            netactors {
              clients.api { base-address = "http://127.0.0.1:1", auth-realm = api }
              auth.realms.api.dpop { enabled = on, key = "{{keyText}}" }
            }
            """);

        var error = Assert.Throws<NetActors.Configuration.NetActorsConfigurationException>(() => NetActors.Configuration.NetActorsSettings.Create(config));

        Assert.Equal("netactors.auth.realms.api.dpop.key", error.Key);
        Assert.Contains("P-256", error.Message);
        Assert.DoesNotContain(keyText[..12], error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void In_cluster_mode_a_DPoP_realm_without_a_shared_key_stops_startup_and_one_with_a_key_starts()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Akka.Configuration.Config Config(string dpop) => Akka.Configuration.ConfigurationFactory.ParseString($$"""
            netactors {
              cluster.enabled = on
              clients.api { base-address = "http://127.0.0.1:1", auth-realm = api }
              auth.realms.api.dpop { {{dpop}} }
            }
            """);

        var error = Assert.Throws<NetActors.Configuration.NetActorsConfigurationException>(
            () => NetActors.Configuration.NetActorsSettings.Create(Config("enabled = on")));

        Assert.Equal("netactors.auth.realms.api.dpop.key", error.Key);
        Assert.Contains("cluster mode", error.Message);
        var keyed = NetActors.Configuration.NetActorsSettings.Create(
            Config($"enabled = on, key = \"{Convert.ToBase64String(key.ExportPkcs8PrivateKey())}\""));
        Assert.True(keyed.Cluster.Enabled);
        Assert.False(keyed.Realms["api"].DPoPKeyGenerated);
        Assert.True(NetActors.Configuration.NetActorsSettings.Create(Config("enabled = off")).Cluster.Enabled);
    }

    [Fact]
    public void The_builder_refuses_a_256_bit_key_of_another_curve()
    {
        using var key = ECDsa.Create(ECCurve.CreateFromFriendlyName("secp256k1"));

        var error = Assert.Throws<ArgumentException>(() => new NetActors.Hosting.AuthRealmBuilder("api").WithDPoP(key));

        Assert.Contains("P-256", error.Message);
        Assert.Throws<ArgumentException>(() => new DPoPProofs(ECDsa.Create(key.ExportParameters(true))));
    }

    [Fact]
    public void The_builder_refuses_a_key_given_by_explicit_curve_parameters_with_its_own_error_not_a_crash()
    {
        using var named = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var key = ECDsa.Create();
        key.ImportParameters(named.ExportExplicitParameters(true));
        Assert.False(key.ExportParameters(false).Curve.IsNamed); // the case under test: no curve name, no OID

        var error = Assert.Throws<ArgumentException>(() => new NetActors.Hosting.AuthRealmBuilder("api").WithDPoP(key));

        Assert.Contains("P-256", error.Message);
    }

    [Fact]
    public void A_proof_has_htm_htu_without_query_and_fragment_iat_a_fresh_jti_and_ath()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var proofs = new DPoPProofs(ECDsa.Create(key.ExportParameters(true)));
        var target = new Uri("https://api.example.com:8443/v1/items/7?secret=1#frag");

        var a = proofs.Create("PUT", target, "at-123");
        var b = proofs.Create("PUT", target, "at-123");

        var parts = a.Split('.');
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        Assert.Equal("dpop+jwt", header.RootElement.GetProperty("typ").GetString());
        Assert.False(header.RootElement.GetProperty("jwk").TryGetProperty("d", out _));
        Assert.Equal("PUT", payload.RootElement.GetProperty("htm").GetString());
        Assert.Equal("https://api.example.com:8443/v1/items/7", payload.RootElement.GetProperty("htu").GetString());
        Assert.Equal(Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes("at-123"))),
            payload.RootElement.GetProperty("ath").GetString());
        Assert.InRange(payload.RootElement.GetProperty("iat").GetInt64(), DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeSeconds(),
            DateTimeOffset.UtcNow.AddSeconds(5).ToUnixTimeSeconds());
        Assert.NotEqual(payload.RootElement.GetProperty("jti").GetString(),
            JsonDocument.Parse(Base64Url.DecodeFromChars(b.Split('.')[1])).RootElement.GetProperty("jti").GetString());
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal(DPoPServer.Thumbprint(key), proofs.Thumbprint);
        Assert.DoesNotContain("secret", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])));
    }
}
