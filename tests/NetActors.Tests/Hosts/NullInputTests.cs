using System.Net;
using NetActors.Errors;

namespace NetActors.Tests.Hosts;

public sealed class NullInputTests
{
    public static TheoryData<string> NullInputs => ["null header value", "null header list", "null url"];

    private static NetRequest Build(string kind) => kind switch
    {
        "null header value" => NetRequest.Get("api", "/x").WithHeader("X-Name", null!),
        "null header list" => NetRequest.Get("api", "/x") with { Headers = null! },
        _ => NetRequest.Get("api", (string)null!),
    };

    [Theory]
    [MemberData(nameof(NullInputs))]
    public async Task A_null_argument_fails_synchronously_with_a_typed_error_and_the_client_keeps_serving(string kind)
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("*", 200, "{}");
        var logs = new LogCapture();
        await using var net = await NetHost.StartAsync(upstream, logs: logs);

        // The client has served a request already, so nothing about it is still starting up.
        Assert.Equal(HttpStatusCode.OK, (await net.Client.SendAsync(NetRequest.Get("api", "/warm"))).StatusCode);

        // Building the request, or sending it, fails; a returned task is already failed when SendAsync returns.
        Task<NetResponse>? sent = null;
        var error = Record.Exception(() => { sent = net.Client.SendAsync(Build(kind)); });
        var answeredAtOnce = sent is null || sent.IsCompleted;
        if (sent is not null)
        {
            error = (await Outcomes.Of(sent.WaitAsync(TimeSpan.FromSeconds(15)))).Error;
        }

        Assert.True(error is ArgumentNullException or InvalidRequestException, $"expected ArgumentNullException or InvalidRequestException, got {error}");
        Assert.True(answeredAtOnce, "a null argument must be rejected before the request is handed to an actor");
        Assert.Single(upstream.Seen);

        // No actor crashed on the way: the client keeps serving, and no NullReferenceException was logged.
        var ok = await net.Client.SendAsync(NetRequest.Get("api", "/fine"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.DoesNotContain("NullReferenceException", logs.All);
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal));
    }
}
