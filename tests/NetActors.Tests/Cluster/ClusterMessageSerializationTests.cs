using Akka.Actor;
using NetActors.Auth;

namespace NetActors.Tests.Cluster;

/// <summary>
/// Every message that crosses members in cluster mode goes through Akka's serializer as a cluster member
/// configures it, and comes back equal: no delegates, no completions, no HTTP content in them, and nothing lost.
/// </summary>
public sealed class ClusterMessageSerializationTests(ClusterMessageSerializationTests.MemberSystem member)
    : IClassFixture<ClusterMessageSerializationTests.MemberSystem>
{
    private readonly ActorSystem _system = member.System;

    public static TheoryData<object> CrossMemberMessages() =>
    [
        // member -> singleton
        new GetToken("api", 7),
        new SignIn("api", new TokenSet("access-1", "refresh-1", new DateTimeOffset(2031, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(2)))),
        new SignIn("api", new TokenSet("access-1")),
        new TerminateSession("api", "the user signed out"),
        new SignIn("api", new TokenSet("access-1")) { CallId = Guid.NewGuid(), Deadline = DateTimeOffset.UnixEpoch.AddSeconds(1_900_000_000) },
        new TerminateSession("api", "the user signed out") { CallId = Guid.NewGuid(), Deadline = DateTimeOffset.UnixEpoch.AddSeconds(1_900_000_000) },
        new SubscribeToken("api"),
        // singleton -> member
        new TokenGranted("api", "access-2", 8, DateTimeOffset.UnixEpoch.AddSeconds(1_900_000_000)),
        new TokenGranted("api", "access-2", 8, null),
        new TokenDenied("api", TokenDenial.SessionExpired, "invalid_grant"),
        new TokenDenied("api", TokenDenial.Overloaded, "10000 token requests are already waiting"),
        new TokenDenied("api", TokenDenial.Malformed, "no access_token"),
        new TokenDenied("api", TokenDenial.Failed, "the auth realm's actor failed"),
        new TokenSubscribed("api"),
        new SignedIn("api", 9),
        new SessionTerminated("api"),
        new TokenRefreshed("api", 9, DateTimeOffset.UnixEpoch.AddSeconds(1_900_000_000), Proactive: true),
        new SessionExpired("api", "the refresh was rejected: invalid_grant"),
    ];

    [Theory]
    [MemberData(nameof(CrossMemberMessages))]
    public void A_cross_member_message_round_trips_through_the_cluster_serializer(object message)
    {
        var serialization = _system.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        var back = serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));

        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(message, back);
    }

    [Fact]
    public void A_failure_answered_across_members_keeps_its_type_and_message()
    {
        // The TokenActor answers a sign-in it cannot take with a failure; it reaches the caller on another member.
        var failure = new Status.Failure(new InvalidOperationException("Auth realm 'api' is overloaded."));
        var serializer = _system.Serialization.FindSerializerFor(failure);
        var back = (Status.Failure)_system.Serialization.Deserialize(serializer.ToBinary(failure), serializer.Identifier,
            Akka.Serialization.Serialization.ManifestFor(serializer, failure));

        Assert.IsType<InvalidOperationException>(back.Cause);
        Assert.Equal(failure.Cause.Message, back.Cause.Message);
    }

    /// <summary>An actor system configured as a cluster member (it need not join anything to serialize).</summary>
    public sealed class MemberSystem : IAsyncLifetime
    {
        public ActorSystem System { get; private set; } = null!;

        public Task InitializeAsync()
        {
            System = ActorSystem.Create("serialization", """
                akka.actor.provider = cluster
                akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
                akka.loglevel = WARNING
                """);
            return Task.CompletedTask;
        }

        public Task DisposeAsync() => System.Terminate();
    }
}
