using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace NetActors.Benchmarks.Scenarios;

/// <summary>
/// The storm's baseline: what one would write by hand over a raw HttpClient (SocketsHttpHandler capped per
/// server). On 401 a request takes a SemaphoreSlim(1, 1); if the token version it failed with is still the
/// current one it calls the refresh endpoint and bumps the version (else another request already did); it
/// releases the semaphore and retries once with the current token.
/// </summary>
internal sealed class SingleFlightClient : IStormClient, IAsyncDisposable
{
    public const string ClientName = "single-flight (raw)";

    private readonly HttpClient _http;
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private volatile Session _session = new(0, string.Empty, string.Empty);

    public SingleFlightClient(IUpstream server, int cap)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = cap,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            BaseAddress = server.BaseAddress,
        };
    }

    public string Name => ClientName;

    public Task StartSessionAsync(string accessToken, string refreshToken, CancellationToken cancellationToken)
    {
        _session = new Session(_session.Version + 1, accessToken, refreshToken);
        return Task.CompletedTask;
    }

    public async Task GetAsync(string url, CancellationToken cancellationToken)
    {
        var session = _session;
        using (var first = await SendAsync(url, session.AccessToken, cancellationToken))
        {
            if (first.StatusCode != HttpStatusCode.Unauthorized)
            {
                await ReadOkAsync(first, url, cancellationToken);
                return;
            }
        }

        await RefreshIfCurrentAsync(session.Version, cancellationToken);
        using var second = await SendAsync(url, _session.AccessToken, cancellationToken);
        await ReadOkAsync(second, url, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        _refreshGate.Dispose();
        return ValueTask.CompletedTask;
    }

    private static async Task ReadOkAsync(HttpResponseMessage response, string url, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode}");
        }

        _ = await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(string url, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>The single flight: one refresh per failed token version, however many requests got 401 with it.</summary>
    private async Task RefreshIfCurrentAsync(long failedVersion, CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var session = _session;
            if (session.Version != failedVersion)
            {
                return; // refreshed (or signed in) since that request went out
            }

            var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["refresh_token"] = session.RefreshToken });
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync("auth/refresh", content, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new HttpRequestException($"the refresh endpoint answered {(int)response.StatusCode}");
            }

            using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            var access = json.RootElement.GetProperty("access_token").GetString();
            var refresh = json.RootElement.GetProperty("refresh_token").GetString();
            if (string.IsNullOrEmpty(access) || string.IsNullOrEmpty(refresh))
            {
                throw new HttpRequestException("the refresh endpoint answered without tokens");
            }

            _session = new Session(session.Version + 1, access, refresh);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private sealed record Session(long Version, string AccessToken, string RefreshToken);
}
