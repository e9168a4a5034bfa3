using System.Net;
using System.Net.Sockets;
using NetActors.Hosts;

namespace NetActors.Tests.Hosts;

/// <summary>
/// Which completed attempt holds the origin's hand-offs until the host actor has handled it: one whose handling can
/// change what the next request may do (a pause, the circuit, a refresh, a redirect's own request). A completion
/// that holds nothing lets the next slot pass on at once; one that should hold and does not would start the next
/// request before its pause or its circuit applies. The attempt holds and the actor releases by asking the same
/// rule, so the rule must not read anything that can change in between. The model runs reports inline, so it cannot
/// see this rule: it is tested here, on the rule itself.
/// </summary>
public sealed class HandOffHoldTests
{
    [Theory]
    [InlineData(200, false)]
    [InlineData(204, false)]
    [InlineData(304, false)]
    [InlineData(400, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(409, false)]
    [InlineData(301, true)]
    [InlineData(302, true)]
    [InlineData(307, true)]
    [InlineData(308, true)]
    [InlineData(401, true)]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(599, true)]
    public void A_status_holds_hand_offs_only_when_its_handling_can_change_what_the_next_request_may_do(int status, bool holds)
    {
        var ex = Exchange.ForTask(NetRequest.Get("api", "/x"), CancellationToken.None);
        using var response = new HttpResponseMessage((HttpStatusCode)status);

        Assert.Equal(holds, AttemptRunner.HoldsHandOffs(new AttemptCompleted(ex, response, default, null)));
    }

    [Fact]
    public void A_failure_holds_hand_offs_and_the_answer_does_not_change_when_the_caller_cancels_after_the_report()
    {
        using var caller = new CancellationTokenSource();
        var ex = Exchange.ForTask(NetRequest.Get("api", "/x"), caller.Token);
        var failed = new AttemptCompleted(ex, null, default,
            new HttpRequestException("reset", new SocketException((int)SocketError.ConnectionReset)));
        using var response = new HttpResponseMessage(HttpStatusCode.NotFound);
        var notFound = new AttemptCompleted(ex, response, default, null);

        var heldAtReport = (AttemptRunner.HoldsHandOffs(failed), AttemptRunner.HoldsHandOffs(notFound));
        caller.Cancel(); // between the attempt's report and the actor's turn
        var releasedByActor = (AttemptRunner.HoldsHandOffs(failed), AttemptRunner.HoldsHandOffs(notFound));

        Assert.Equal((true, false), heldAtReport); // a failure may open the circuit: the next start waits for it
        Assert.Equal(heldAtReport, releasedByActor); // one release per hold, whatever the caller did meanwhile
    }
}
