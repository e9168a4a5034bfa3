using NetActors.Configuration;
using NetActors.Hosts;

namespace NetActors.Tests.Hosts;

/// <summary>
/// The origin key decides which host actor (cap, queue, realm check) takes a request: a request built from a Uri
/// must get exactly the key of the same URL sent as text, whatever the spelling, or a token could go with it to
/// another origin, or one origin could be counted under two keys.
/// </summary>
public sealed class RequestTargetsTests
{
    public static TheoryData<string> Spellings =>
    [
        "http://api.test:8080/x",
        "HTTP://API.TEST:8080/x",
        "http://user:secret@api.test:8080/x",
        "http://api.test:08080/x#frag",
        "http://api.test/x",
        "http://api.test:80/x",
        "https://api.test:8080/x",
        "http://api.test.:8080/x",
        "http://xn--bcher-kva.test:8080/x",
        "http://Bücher.test:8080/x",
        "http://[::1]:8080/x",
        "http://[0:0::1]:8080/x",
        "http://127.0.0.1:8080/x",
        "http://api.test:8080/a b/../c",
    ];

    [Theory]
    [MemberData(nameof(Spellings))]
    public void A_uri_request_gets_the_origin_key_of_its_text(string text)
    {
        var client = PolicyExchanges.Client; // base http://api.test:8080/v1
        var fromUri = NetRequest.Get("api", new Uri(text));
        var fromText = NetRequest.Get("api", text);

        Assert.True(RequestTargets.TryAbsolute(fromUri, out var uriTarget, out _));
        Assert.True(RequestTargets.TryAbsolute(fromText, out var textTarget, out _));

        Assert.Equal(Origins.KeyOf(textTarget!), RequestTargets.OriginKeyOf(uriTarget!, client));
        Assert.Equal(RequestTargets.OriginKeyOf(textTarget!, client), RequestTargets.OriginKeyOf(uriTarget!, client));
        Assert.Equal(textTarget!.AbsoluteUri, uriTarget!.AbsoluteUri);
    }
}
