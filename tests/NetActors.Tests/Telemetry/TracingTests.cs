using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Auth;
using NetActors.Errors;
using NetActors.Hosting;
using NetActors.Telemetry;

namespace NetActors.Tests.Telemetry;

/// <summary>
/// A request keeps its caller's trace: the NetActors span is a child of the caller's activity, and the one
/// <c>traceparent</c> the upstream receives carries the caller's trace id, through every way of sending.
/// </summary>
public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        // NetActors' source and .NET's own HttpClient source: the socket handler would add its own traceparent
        // (and a parentless span) if the runtime let it.
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is NetActivity.SourceName or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => _stopped.Enqueue(a),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task SendAsync_continues_the_callers_trace_on_the_wire_and_in_a_client_span_with_the_http_attributes()
    {
        var (upstream, tokens, net, signIn) = await StartSignedInAsync(expired: false);
        await using var _ = upstream;
        await using var __ = net;
        using var caller = new Activity("caller").Start();

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/api/items/7?access_token=SECRET-QUERY&x=1"));

        Assert.Equal(200, (int)response.StatusCode);
        var seen = Assert.Single(upstream.Seen, s => s.Path == "/api/items/7");
        var span = Assert.Single(SpansOf(caller));
        var wire = TraceParent(seen);
        Assert.Equal(caller.TraceId.ToHexString(), wire.TraceId);
        Assert.Equal(span.SpanId.ToHexString(), wire.ParentId);   // the wire continues NetActors' span
        Assert.Equal(caller.SpanId, span.ParentSpanId);           // which continues the caller's
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("GET", span.DisplayName);
        Assert.Equal("GET", span.GetTagItem("http.request.method"));
        Assert.Equal(upstream.BaseAddress.Host, span.GetTagItem("server.address"));
        Assert.Equal(upstream.BaseAddress.Port, span.GetTagItem("server.port"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        Assert.StartsWith(upstream.BaseAddress.AbsoluteUri + "api/items/7?", (string)span.GetTagItem("url.full")!);
        Assert.Null(span.GetTagItem("http.request.resend_count"));
        Assert.Null(span.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
        AssertNoSecret(span, "SECRET-QUERY", signIn.AccessToken, signIn.RefreshToken!);
        // No second, parentless client span per attempt from the socket handler (told apart from other tests' by port).
        Assert.DoesNotContain(_stopped, a => a.Source.Name == "System.Net.Http" &&
            Equals(a.GetTagItem("server.port"), upstream.BaseAddress.Port));
    }

    [Fact]
    public async Task The_httpclient_handler_continues_the_callers_trace_with_exactly_one_traceparent()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/in/1", 200, "{}");
        await using var net = await NetHost.StartAsync(
            n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)),
            services: s => s.AddHttpClient("plain", h => h.BaseAddress = upstream.BaseAddress).AddNetActorsHandler("api"));
        var http = net.Services.GetRequiredService<IHttpClientFactory>().CreateClient("plain");
        using var caller = new Activity("caller").Start();
        using var request = new HttpRequestMessage(HttpMethod.Get, "in/1");
        // A traceparent some other layer put on the caller's message: the runtime's own replaces it, never adds to it.
        request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(200, (int)response.StatusCode);
        var wire = TraceParent(Assert.Single(upstream.Seen, s => s.Path == "/in/1"));
        var span = Assert.Single(SpansOf(caller));
        Assert.Equal(caller.TraceId.ToHexString(), wire.TraceId);
        Assert.Equal(span.SpanId.ToHexString(), wire.ParentId);
        Assert.Equal(caller.SpanId, span.ParentSpanId);
    }

    [Fact]
    public void The_trace_a_request_was_built_in_is_not_part_of_its_value()
    {
        NetRequest inOne, inOther;
        using (new Activity("one").Start())
        {
            inOne = NetRequest.Get("api", "/same");
        }

        using (new Activity("other").Start())
        {
            inOther = NetRequest.Get("api", "/same");
        }

        Assert.NotSame(inOne.Caller, inOther.Caller);
        Assert.Equal(inOne, inOther);
        Assert.Equal(inOne.GetHashCode(), inOther.GetHashCode());
        Assert.NotEqual(inOne, inOther with { Url = "/other" });
    }

    [Fact]
    public async Task A_request_told_to_the_gateway_continues_the_trace_its_creator_had()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/in/1", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));
        NetRequest told;
        Activity caller;
        using (caller = new Activity("caller").Start())
        {
            told = NetRequest.Get("api", "/in/1");
        }

        var response = await net.Gateway.Ask<NetResponse>(told, TimeSpan.FromSeconds(20));

        Assert.Equal(200, (int)response.StatusCode);
        var wire = TraceParent(Assert.Single(upstream.Seen, s => s.Path == "/in/1"));
        Assert.Equal(caller.TraceId.ToHexString(), wire.TraceId);
        Assert.Equal(caller.SpanId, Assert.Single(SpansOf(caller)).ParentSpanId);
    }

    [Fact]
    public async Task A_retried_request_shows_its_resend_count_and_an_event_per_attempt()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var bodies = new BodyRecorder();
        upstream.Map("/in/*", bodies.FailingFirst(1));
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)
            .WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50))));
        using var caller = new Activity("caller").Start();

        var response = await net.Client.SendAsync(NetRequest.Get("api", "/in/retried"));

        Assert.Equal(200, (int)response.StatusCode);
        var span = Assert.Single(SpansOf(caller));
        Assert.Equal(1, span.GetTagItem("http.request.resend_count"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        var attempts = span.Events.Where(e => e.Name == NetActivity.AttemptEventName).ToList();
        Assert.Equal([503, 200], attempts.Select(e => (int)e.Tags.Single(t => t.Key == "http.response.status_code").Value!));
        Assert.Equal([1, 2], attempts.Select(e => (int)e.Tags.Single(t => t.Key == "netactors.attempt").Value!));
        var sent = upstream.Seen.Where(s => s.Path == "/in/retried").Select(s => TraceParent(s)).ToList();
        Assert.Equal(2, sent.Count);
        Assert.All(sent, w => Assert.Equal(caller.TraceId.ToHexString(), w.TraceId));
    }

    [Fact]
    public async Task A_failed_request_has_status_error_with_its_error_type()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/missing", 404, "{}");
        upstream.Map("/reset", TestUpstream.Abort);
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1)));
        using var caller = new Activity("caller").Start();

        await Assert.ThrowsAsync<NotFoundException>(() => net.Client.SendAsync(NetRequest.Get("api", "/missing")));
        await Assert.ThrowsAsync<NetworkException>(() => net.Client.SendAsync(NetRequest.Get("api", "/reset")));

        var spans = SpansOf(caller);
        var missing = Assert.Single(spans, s => ((string)s.GetTagItem("url.full")!).EndsWith("/missing"));
        Assert.Equal(ActivityStatusCode.Error, missing.Status);
        Assert.Equal("404", missing.GetTagItem("error.type"));
        Assert.Equal(404, missing.GetTagItem("http.response.status_code"));
        var reset = Assert.Single(spans, s => ((string)s.GetTagItem("url.full")!).EndsWith("/reset"));
        Assert.Equal(ActivityStatusCode.Error, reset.Status);
        Assert.Equal(typeof(NetworkException).FullName, reset.GetTagItem("error.type"));
        Assert.Null(reset.GetTagItem("http.response.status_code"));
    }

    [Fact]
    public async Task A_token_refresh_has_its_own_span_and_its_call_to_the_token_endpoint_is_a_child_of_it()
    {
        var (upstream, tokens, net, signIn) = await StartSignedInAsync(expired: true);
        await using var _ = upstream;
        await using var __ = net;
        using var caller = new Activity("caller").Start();

        await Task.WhenAll(Enumerable.Range(0, 5).Select(i => net.Client.SendAsync(NetRequest.Get("api", $"/api/items/{i}"))));

        Assert.Equal(1, tokens.RefreshCalls);
        var call = Assert.Single(_stopped, a => a.Source.Name == NetActivity.SourceName &&
            Equals(a.GetTagItem("server.port"), upstream.BaseAddress.Port) &&
            ((string)a.GetTagItem("url.full")!).EndsWith("/auth/refresh", StringComparison.Ordinal));
        var refresh = Assert.Single(_stopped, a => a.SpanId == call.ParentSpanId && a.TraceId == call.TraceId);
        Assert.Equal(NetActivity.RefreshSpanName, refresh.OperationName);
        Assert.Equal("success", refresh.GetTagItem("netactors.auth.outcome"));
        Assert.Equal("POST", call.DisplayName);
        Assert.Equal(call.TraceId.ToHexString(), TraceParent(Assert.Single(upstream.Seen, s => s.Path == "/auth/refresh")).TraceId);
        Assert.Equal(5, SpansOf(caller).Count);      // the requests keep their caller's trace across the refresh
        // Those that waited for the new token link to the refresh that produced it (the burst's first 401 at least).
        var waited = SpansOf(caller).Where(s => s.Links.Any()).ToList();
        Assert.NotEmpty(waited);
        Assert.All(waited.SelectMany(s => s.Links), l => Assert.Equal(refresh.SpanId, l.Context.SpanId));
        Assert.All(waited, s => Assert.Contains(s.Events, e => e.Name == NetActivity.TokenWaitEventName));
        foreach (var span in SpansOf(caller).Append(call).Append(refresh))
        {
            AssertNoSecret(span, signIn.AccessToken, signIn.RefreshToken!, tokens.CurrentAccessToken);
        }
    }

    [Fact]
    public async Task Without_a_listener_the_wire_still_continues_the_callers_trace()
    {
        _listener.Dispose();
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/in/1", 200, "{}");
        await using var net = await NetHost.StartAsync(n => n.AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress)));
        using var caller = new Activity("caller").Start();

        await net.Client.SendAsync(NetRequest.Get("api", "/in/1"));

        Assert.Equal(caller.TraceId.ToHexString(), TraceParent(Assert.Single(upstream.Seen, s => s.Path == "/in/1")).TraceId);
    }

    /// <summary>An upstream with a token endpoint and protected <c>/api/*</c>, and a runtime signed in to it.</summary>
    private static async Task<(TestUpstream Upstream, TokenServer Tokens, NetHost Net, TokenSet SignIn)> StartSignedInAsync(bool expired)
    {
        var upstream = await TestUpstream.StartAsync();
        var tokens = new TokenServer().Install(upstream);
        tokens.ProtectedHandler = ctx => TestUpstream.Write(ctx, 200, "{}");
        var net = await NetHost.StartAsync(n => n.AddClient("api", c => c
            .WithBaseAddress(upstream.BaseAddress).WithBearerAuth(a => a.WithRefreshEndpoint("/auth/refresh"))));
        var signIn = expired ? tokens.SignIn(expired: true, tellExpiry: false) : tokens.SignIn();
        await net.Client.SignInAsync("api", signIn);
        return (upstream, tokens, net, signIn);
    }

    private List<Activity> SpansOf(Activity caller) =>
        _stopped.Where(a => a.TraceId == caller.TraceId && a.Source.Name == NetActivity.SourceName).ToList();

    /// <summary>The one traceparent the upstream received (two would arrive joined by a comma).</summary>
    private static (string TraceId, string ParentId) TraceParent(SeenRequest seen)
    {
        Assert.True(seen.Headers.TryGetValue("traceparent", out var value), "no traceparent on the wire");
        var parts = value!.Split('-');
        Assert.DoesNotContain(",", value);
        Assert.Equal(4, parts.Length);
        Assert.Equal("00", parts[0]);
        return (parts[1], parts[2]);
    }

    private static void AssertNoSecret(Activity span, params string[] secrets)
    {
        var texts = span.TagObjects.Select(t => $"{t.Key}={t.Value}")
            .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name}:{t.Key}={t.Value}")))
            .Append(span.DisplayName).Append(span.StatusDescription ?? "").ToList();
        Assert.NotEmpty(texts);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(texts, t => t.Contains(secret, StringComparison.Ordinal));
        }
    }
}
