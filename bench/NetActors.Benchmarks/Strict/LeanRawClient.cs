using System.Buffers;
using System.Net;

namespace NetActors.Benchmarks.Strict;

/// <summary>
/// The strict benchmark's raw baseline, doing only what a request needs: one HttpClient over a SocketsHttpHandler
/// capped per server, absolute <see cref="Uri"/>s built before the measurement, the bearer header set once on
/// DefaultRequestHeaders, headers read first and the body read into a buffer the caller reuses. (The typical-app
/// <see cref="RawClient"/> combines a relative URL with BaseAddress per request and reads the body with
/// ReadAsByteArrayAsync.)
/// </summary>
internal sealed class LeanRawClient : IBenchClient
{
    /// <summary>Big enough for every body of the bench server in one read.</summary>
    public const int BufferSize = 4096;

    private readonly HttpClient _http;

    public LeanRawClient(IUpstream server, int cap)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = cap,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        });
        _http.DefaultRequestHeaders.Authorization = BenchClients.BenchAuthorization(server);
    }

    public string Name => StrictClients.LeanRaw;

    /// <summary>GETs <paramref name="uri"/> and reads its body into <paramref name="buffer"/>; throws unless 200.</summary>
    public async Task GetAsync(Uri uri, byte[] buffer, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"GET {uri} answered {(int)response.StatusCode}");
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        while (await body.ReadAsync(buffer, cancellationToken) > 0)
        {
            // Discarded: only reading it matters.
        }
    }

    /// <summary>For scenarios whose URLs are strings (many origins: there memory per origin is measured, not allocation).</summary>
    public async Task GetAsync(string url, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await GetAsync(new Uri(url), buffer, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
