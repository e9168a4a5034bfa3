using System.Net;
using System.Net.Http.Headers;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Hosts;
using NetActors.Resilience;

namespace NetActors.Tests.Hosts;

/// <summary>Exchanges as the router leaves them, for the host's plain policy classes.</summary>
internal static class PolicyExchanges
{
    public static readonly ClientSettings Client = new()
    {
        Name = "api",
        BaseAddress = new Uri("http://api.test:8080/v1"),
        DefaultHeaders = [new("X-App-Version", "1.0"), new("Cookie", "session=abc")],
        Retry = new RetrySettings { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(100) },
    };

    public static Exchange For(NetRequest request, ClientSettings? client = null, TimeSpan? total = null)
    {
        var ex = Exchange.ForTask(request, CancellationToken.None);
        ex.Client = client ?? Client;
        ex.OriginKey = Origins.KeyOf(ex.Client.BaseAddress!);
        ex.Begin(total ?? TimeSpan.FromSeconds(30));
        return ex;
    }

    public static Exchange Prepared(NetRequest request, ClientSettings? client = null)
    {
        var ex = For(request, client);
        Assert.Null(RequestMessageBuilder.Prepare(ex, _ => NetJson.Default));
        return ex;
    }
}

public sealed class AdmissionLedgerTests
{
    [Fact]
    public void Refuses_beyond_max_connections_plus_queue_capacity_and_frees_a_place_when_a_request_leaves()
    {
        var ledger = new AdmissionLedger(maxConnections: 2, queueCapacity: 3);
        var admitted = Enumerable.Range(0, 5).Select(_ => PolicyExchanges.For(NetRequest.Get("api", "/x"))).ToList();
        Assert.All(admitted, ex => Assert.True(ledger.TryEnter(ex)));

        var sixth = PolicyExchanges.For(NetRequest.Get("api", "/x"));
        Assert.False(ledger.TryEnter(sixth));
        Assert.Equal(5, ledger.Admitted);

        ledger.Leave(admitted[0]);
        ledger.Leave(admitted[0]); // idempotent
        Assert.Equal(4, ledger.Admitted);
        Assert.True(ledger.TryEnter(sixth));
        Assert.True(ledger.TryEnter(sixth)); // counted once
        Assert.Equal(5, ledger.Admitted);
    }

    [Fact]
    public void Never_refuses_a_token_refresh_and_counts_it_apart()
    {
        var ledger = new AdmissionLedger(maxConnections: 1, queueCapacity: 0);
        Assert.True(ledger.TryEnter(PolicyExchanges.For(NetRequest.Get("api", "/x"))));
        var refresh = Exchange.ForTask(NetRequest.Post("api", "/auth/refresh"), CancellationToken.None, priority: true);

        Assert.True(ledger.TryEnter(refresh));
        Assert.Equal(1, ledger.Admitted);
        Assert.False(ledger.IsEmpty);
    }

    [Fact]
    public void Concurrent_callers_never_push_it_past_its_capacity()
    {
        var ledger = new AdmissionLedger(maxConnections: 6, queueCapacity: 50);
        var exchanges = Enumerable.Range(0, 2_000).Select(_ => PolicyExchanges.For(NetRequest.Get("api", "/x"))).ToArray();
        var entered = 0;
        Parallel.For(0, exchanges.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (ledger.TryEnter(exchanges[i]))
            {
                Interlocked.Increment(ref entered);
            }
        });

        Assert.Equal(56, entered);
        Assert.Equal(56, ledger.Admitted);
    }
}

public sealed class RequestMessageBuilderTests
{
    [Theory]
    [InlineData("search?u=http://x.example", "http://api.test:8080/v1/search?u=http://x.example")]
    [InlineData("/users/me", "http://api.test:8080/v1/users/me")]
    [InlineData("users/me", "http://api.test:8080/v1/users/me")]
    [InlineData("http://other.test/a", "http://other.test/a")]
    public void A_url_is_relative_unless_it_starts_with_a_scheme(string url, string expected)
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", url));
        Assert.Equal(expected, ex.Target!.AbsoluteUri);
    }

    [Theory]
    [InlineData("X-Name", "José", "not printable ASCII")]
    [InlineData("X-Name", "a\r\nInjected: 1", "line break")]
    [InlineData("Transfer-Encoding", "chunked", "frames the message")]
    [InlineData("Content-Length", "10", "frames the message")]
    public void Headers_dotnet_would_refuse_on_the_wire_are_refused_before_sending(string name, string value, string problem)
    {
        var ex = PolicyExchanges.For(NetRequest.Get("api", "/x").WithHeader(name, value));
        var reason = RequestMessageBuilder.Prepare(ex, _ => NetJson.Default);
        Assert.NotNull(reason);
        Assert.Contains(problem, reason);
        Assert.DoesNotContain(value, reason); // never the value: it may be a secret
    }

    [Fact]
    public void The_message_carries_defaults_the_token_the_key_and_the_callers_headers()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Post("api", "/orders", NetContent.Text("{}", "application/json"))
            .WithIdempotencyKey("k-1").WithHeader("X-Trace", "t").WithHeader("X-App-Version", "2.0"));
        ex.Authorization = "Bearer abc";

        using var message = RequestMessageBuilder.Build(ex);

        Assert.Equal("Bearer abc", message.Headers.Authorization!.ToString());
        Assert.Equal("k-1", message.Headers.GetValues("Idempotency-Key").Single());
        Assert.Equal("2.0", message.Headers.GetValues("X-App-Version").Single()); // the caller's wins over the default
        Assert.Equal("t", message.Headers.GetValues("X-Trace").Single());
        Assert.IsType<BodyGuardContent>(message.Content);
        Assert.Equal("application/json", message.Content!.Headers.ContentType!.MediaType);
    }

    [Fact]
    public void After_a_redirect_to_another_origin_no_hand_set_credential_goes_along()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/export"));
        ex.Redirects = 1;
        ex.Target = new Uri("http://files.test/export");

        using var message = RequestMessageBuilder.Build(ex);

        Assert.False(message.Headers.Contains("Cookie"));
        Assert.True(message.Headers.Contains("X-App-Version"));
    }

    [Fact]
    public void A_body_that_cannot_be_made_throws_its_own_exception_for_the_host_to_type()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Post("api", "/x", new ThrowingContent()));
        var error = Assert.Throws<NotImplementedException>(() => RequestMessageBuilder.Build(ex));
        Assert.Equal("no body", error.Message);
    }

    private sealed class ThrowingContent : NetContent
    {
        public override long? Length => null;

        public override string? MediaType => "text/plain";

        public override HttpContent CreateHttpContent() => throw new NotImplementedException("no body");
    }
}

public sealed class FailureClassifierTests
{
    [Fact]
    public void A_body_that_fails_while_it_is_sent_is_the_requests_problem_and_not_the_origins()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        var error = new HttpRequestException("send failed", new RequestBodyException("the request body had 3 bytes, but its declared length is 9.", null));

        var failure = FailureClassifier.Classify(ex, error);

        var invalid = Assert.IsType<InvalidRequestException>(failure);
        Assert.Contains("declared length", invalid.Message);
        Assert.False(FailureClassifier.CountsAgainstOrigin(ex, failure));
    }

    [Fact]
    public void A_refused_connection_is_a_network_failure_that_counts_against_the_origin()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        var failure = FailureClassifier.Classify(ex, new HttpRequestException(HttpRequestError.ConnectionError, "refused",
            new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused)));

        Assert.Equal("the connection was refused", Assert.IsType<NetworkException>(failure).Message.Split(": ").Last().TrimEnd('.'));
        Assert.True(FailureClassifier.CountsAgainstOrigin(ex, failure));
    }

    [Fact]
    public void A_timeout_counts_against_the_origin_only_when_the_attempt_had_its_whole_attempt_timeout()
    {
        var full = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        full.ArmAttempt(new CancellationTokenSource(), TimeSpan.FromSeconds(10)); // 30 s left: the attempt's own 10 s
        var starved = PolicyExchanges.For(NetRequest.Get("api", "/x"), total: TimeSpan.FromSeconds(2));
        starved.ArmAttempt(new CancellationTokenSource(), TimeSpan.FromSeconds(10)); // only 2 s left of its budget
        var timeout = new NetTimeoutException(null, TimeSpan.FromSeconds(10), TimeoutKind.Attempt);

        Assert.True(FailureClassifier.CountsAgainstOrigin(full, timeout));
        Assert.False(FailureClassifier.CountsAgainstOrigin(starved, timeout)); // its queue wait used the rest: the client's overload
        Assert.True(FailureClassifier.CountsAgainstOrigin(starved, new NetTimeoutException(null, TimeSpan.FromSeconds(10), TimeoutKind.Connect)));
    }
}

public sealed class RetryPolicyTests
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(20);

    private static Exception Unavailable(TimeSpan? retryAfter = null) =>
        HttpStatusException.For(HttpStatusCode.ServiceUnavailable, null, null, retryAfter);

    [Fact]
    public void A_post_without_an_idempotency_key_is_never_retried()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Post("api", "/orders", NetContent.Text("x")));
        ex.Attempts = 1;
        Assert.Null(RetryPolicy.Decide(ex, Unavailable(), null, 0.5, Tolerance).Delay);
    }

    [Fact]
    public void A_post_with_a_key_is_retried_with_backoff_and_a_get_after_the_servers_retry_after()
    {
        var post = PolicyExchanges.Prepared(NetRequest.Post("api", "/orders", NetContent.Text("x")).WithIdempotencyKey("k"));
        post.Attempts = 1;
        Assert.NotNull(RetryPolicy.Decide(post, Unavailable(), null, 0.5, Tolerance).Delay);

        var get = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        get.Attempts = 1;
        Assert.Equal(TimeSpan.FromSeconds(2), RetryPolicy.Decide(get, Unavailable(), TimeSpan.FromSeconds(2), 0.5, Tolerance).Delay);
    }

    [Fact]
    public void No_retry_past_max_attempts_or_past_the_total_timeout_or_for_a_failure_that_is_not_transient()
    {
        var exhausted = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        exhausted.Attempts = 3;
        Assert.Null(RetryPolicy.Decide(exhausted, Unavailable(), null, 0.5, Tolerance).Delay);

        var late = PolicyExchanges.For(NetRequest.Get("api", "/x"), total: TimeSpan.FromSeconds(1));
        late.Attempts = 1;
        Assert.Null(RetryPolicy.Decide(late, Unavailable(), TimeSpan.FromSeconds(5), 0.5, Tolerance).Delay);

        var notFound = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        notFound.Attempts = 1;
        Assert.Null(RetryPolicy.Decide(notFound, HttpStatusException.For(HttpStatusCode.NotFound, null, null), null, 0.5, Tolerance).Delay);
    }

    [Fact]
    public void A_classifier_that_throws_means_no_retry_and_is_reported()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/x"));
        ex.Attempts = 1;
        ex.Hooks = new ClientHooks { IsTransient = _ => throw new InvalidOperationException("classifier bug") };

        var decision = RetryPolicy.Decide(ex, Unavailable(), null, 0.5, Tolerance);

        Assert.Null(decision.Delay);
        Assert.Equal("classifier bug", decision.ClassifierError!.Message);
    }

    [Theory]
    [InlineData("315360000")]
    [InlineData("2147483647")]
    [InlineData("Fri, 31 Dec 9999 23:59:59 GMT")]
    public void A_retry_after_of_years_is_cut_to_max_retry_after(string header)
    {
        var value = RetryConditionHeaderValue.Parse(header);
        Assert.Equal(TimeSpan.FromMinutes(5), RetryAfter.From(value, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
    }
}

public sealed class DedupTableTests
{
    [Fact]
    public void Identical_gets_share_one_call_and_different_ones_do_not()
    {
        var table = new DedupTable();
        var leader = PolicyExchanges.Prepared(NetRequest.Get("api", "/items/1"));
        var follower = PolicyExchanges.Prepared(NetRequest.Get("api", "/items/1"));
        var otherHeaders = PolicyExchanges.Prepared(NetRequest.Get("api", "/items/1").WithHeader("Accept", "text/csv"));
        var post = PolicyExchanges.Prepared(NetRequest.Post("api", "/items/1"));

        Assert.False(table.TryFollow(leader));
        Assert.True(table.TryFollow(follower));
        Assert.Same(leader, follower.Leader);
        Assert.Equal(ExchangeState.Following, follower.State);
        Assert.False(table.TryFollow(otherHeaders)); // leads a call of its own
        Assert.False(table.TryFollow(post));
        Assert.Null(post.DedupKey);
        Assert.Equal(2, table.Count);

        table.Leave(leader);
        Assert.False(table.TryFollow(PolicyExchanges.Prepared(NetRequest.Get("api", "/items/1")))); // a new leader
    }

    [Fact]
    public void A_uri_that_goes_on_the_wire_unlike_its_text_never_shares_the_call_of_that_text()
    {
        const string text = "http://api.test:8080/v1/a/../b?q=%41"; // as text it goes as /v1/b?q=A
        var raw = new Uri(text, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        var table = new DedupTable();
        Assert.False(table.TryFollow(PolicyExchanges.Prepared(NetRequest.Get("api", text))));

        var asIs = Routed(NetRequest.Get("api", raw)); // goes as /v1/a/../b?q=%41, as its caller asked
        Assert.Equal("/v1/a/../b?q=%41", asIs.Target!.PathAndQuery);
        Assert.False(table.TryFollow(asIs));
        Assert.True(table.TryFollow(Routed(NetRequest.Get("api", new Uri(text))))); // the same wire request as the text

        // As the router leaves a request built from a Uri: its target is that Uri.
        static Exchange Routed(NetRequest request)
        {
            var ex = PolicyExchanges.For(request);
            Assert.True(RequestTargets.TryAbsolute(request, out var target, out _));
            ex.Target = target;
            Assert.Null(RequestMessageBuilder.Prepare(ex, _ => NetJson.Default));
            return ex;
        }
    }

    [Theory]
    [InlineData("http://api.test/v1/items?q=a&b=c")]
    [InlineData("HTTP://API.test:80/x")]
    [InlineData("http://api.test/a(b)*!$'?x=y#frag")]
    [InlineData("http://api.test/p:q@r;s=t,u+v~w")]
    public void A_plain_url_is_its_own_key_and_goes_the_same_whether_or_not_its_uri_canonicalises(string text)
    {
        var canonical = new Uri(text);
        var asIs = new Uri(text, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

        Assert.Same(canonical.OriginalString, DedupTable.WireUrl(canonical)); // read for nothing
        Assert.Same(asIs.OriginalString, DedupTable.WireUrl(asIs));
        Assert.Equal(canonical.AbsoluteUri, asIs.AbsoluteUri); // so the text stands for one wire request
    }

    [Theory]
    [InlineData("http://api.test/a/../b")]
    [InlineData("http://api.test/%41")]
    [InlineData("http://api.test/a b")]
    [InlineData("http://api.test/\u00e9")]
    [InlineData("http://api.test/a\\b")]
    [InlineData("http://[::1]:8080/x")]
    public void Any_other_url_is_keyed_by_what_goes_on_the_wire(string text)
    {
        var canonical = new Uri(text);
        var asIs = new Uri(text, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

        Assert.Equal(canonical.AbsoluteUri, DedupTable.WireUrl(canonical));
        Assert.Equal(asIs.AbsoluteUri, DedupTable.WireUrl(asIs));
    }

    [Fact]
    public void A_request_that_opted_out_never_shares()
    {
        var table = new DedupTable();
        Assert.False(table.TryFollow(PolicyExchanges.Prepared(NetRequest.Get("api", "/a"))));
        var alone = PolicyExchanges.Prepared(NetRequest.Get("api", "/a").WithoutDeduplication());
        Assert.False(table.TryFollow(alone));
        Assert.Null(alone.Leader);
    }
}

public sealed class CacheRulesTests
{
    [Theory]
    [InlineData("If-None-Match", "\"v1\"")]
    [InlineData("Authorization", "Basic abc")]
    [InlineData("Range", "bytes=0-10")]
    public void A_request_with_its_own_validators_or_credentials_bypasses_the_cache(string name, string value)
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/ref").WithHeader(name, value));
        Assert.False(CacheRules.IsCacheable(ex));
    }

    [Fact]
    public void A_plain_get_may_use_the_cache_and_its_cache_control_is_read()
    {
        var ex = PolicyExchanges.Prepared(NetRequest.Get("api", "/ref").WithHeader("Cache-Control", "max-age=0"));
        Assert.True(CacheRules.IsCacheable(ex));
        Assert.Equal((false, true), CacheRules.RequestDirectives(ex));
        Assert.Equal("1.0", CacheRules.RequestHeaderOf(ex)("X-App-Version"));
        Assert.False(CacheRules.IsCacheable(PolicyExchanges.Prepared(NetRequest.Post("api", "/ref"))));
    }
}
