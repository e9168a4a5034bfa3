using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Logging;
using Microsoft.Extensions.Logging;

namespace NetActors.Tests.Hosts;

/// <summary>
/// The per-origin clients the runtime takes from IHttpClientFactory carry none of the factory's logging: no
/// logging handler on the wire path, and no logger created per origin (the logger factory would keep it after the
/// origin is evicted). An application's own named clients keep the factory's logging, and a message handler it adds to
/// all clients stays in NetActors' pipeline.
/// </summary>
public sealed class FactoryLoggingTests
{
    [Fact]
    public async Task Origins_the_runtime_visits_create_no_factory_loggers_while_the_apps_own_clients_keep_theirs()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/ok", 200, "{}");
        await using var second = await TestUpstream.StartAsync();
        second.Respond("/ok", 200, "{}");
        var categories = new ConcurrentQueue<string>();
        var counted = new ConcurrentQueue<string>();
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)),
            services: s =>
            {
                s.AddLogging(l => l.AddProvider(new RecordingProvider(categories)));
                s.AddHttpClient("app-own");
                s.ConfigureHttpClientDefaults(b => b.AddHttpMessageHandler(() => new CountingHandler(counted)));
            });

        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/ok"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", new Uri(second.BaseAddress, "/ok").ToString()))).StatusCode);

        // The app's own named client is untouched: the factory still logs it.
        using var own = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("app-own");
        Assert.Equal(HttpStatusCode.OK, (await own.GetAsync(new Uri(upstream.BaseAddress, "/ok"))).StatusCode);

        Assert.Contains(categories, c => c == "System.Net.Http.HttpClient.app-own.LogicalHandler");
        Assert.DoesNotContain(categories, c => c.StartsWith("System.Net.Http.HttpClient.NetActors:", StringComparison.Ordinal));
        Assert.Equal(2, upstream.Count("/ok"));

        // A message handler the app adds to all clients stays in NetActors' pipeline too (2 requests, then the app's own).
        Assert.Equal(3, counted.Count);
        Assert.Equal(1, second.Count("/ok"));
    }

    private sealed class CountingHandler(ConcurrentQueue<string> counted) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            counted.Enqueue(request.RequestUri!.AbsolutePath);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class RecordingProvider(ConcurrentQueue<string> categories) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName)
        {
            categories.Enqueue(categoryName);
            return Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        }

        public void Dispose()
        {
        }
    }
}
