using Akka.Actor;
using Akka.Configuration;
using CsCheck;
using NetActors.Configuration;

namespace NetActors.Tests.Hosts;

/// <summary>
/// The origin actor's deterministic model-based test: thousands of generated sequences of events (requests
/// admitted, cancelled, answered 200 / 401 / 429 or 503 with any Retry-After / 404 / reset / a redirect to the same
/// origin, calls that hang, tokens granted or denied, time passing, crashes idle or with a request in hand, a
/// client's request hook and held response hooks that return or throw, shutdown) run against a real host actor on a fake clock, with
/// every promise of the origin checked after every step and every outcome's kind checked against a reference
/// model (see <see cref="OriginModel"/> and <see cref="OriginOracle"/>). A failing sequence is shrunk to a short
/// one and reported with its seed; set NETACTORS_MODEL_SEED to that seed to replay it.
/// </summary>
public sealed class OriginModelTests : IDisposable
{
    /// <summary>How many sequences CI runs; more with NETACTORS_MODEL_ITERATIONS.</summary>
    private static readonly long Iterations =
        long.TryParse(Environment.GetEnvironmentVariable("NETACTORS_MODEL_ITERATIONS"), out var n) ? n : 2_000;

    /// <summary>How many sequences the deadline-only test runs (a quarter of the others).</summary>
    private static readonly long DeadlineIterations = Math.Max(1, Iterations / 4);

    private static readonly Config SystemConfig = ConfigurationFactory.ParseString("""
        akka.actor.default-dispatcher.type = "Akka.TestKit.CallingThreadDispatcherConfigurator, Akka.TestKit"
        akka.actor.internal-dispatcher.type = "Akka.TestKit.CallingThreadDispatcherConfigurator, Akka.TestKit"
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = OFF
        akka.stdout-loglevel = OFF
        akka.log-dead-letters = off
        """);

    private readonly ActorSystem _system = ActorSystem.Create("origin-model", SystemConfig);

    /// <summary>A sequence did not finish a step (reported as its failure); the rest are not run on this system.</summary>
    private bool _hung;

    // One shape in three has an adaptive limit (gradient or AIMD) under its max-connections; one in three has hooks.
    private static readonly Gen<OriginShape> Shapes =
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, 4], Gen.Bool, Gen.Bool, Gen.Int[0, 2], Gen.Int[0, 2], (max, queue, auth, dedup, adaptive, hooks) =>
            new OriginShape(max, queue, auth, dedup, adaptive switch
            {
                1 => AdaptiveAlgorithm.Gradient,
                2 => AdaptiveAlgorithm.Aimd,
                _ => null,
            }, hooks == 0));

    // Admissions and answers are the common events; time passes often; crashes, denials and shutdown are rare.
    private static readonly Gen<OriginEvent> Events = Gen.Frequency(
        (6, Gen.Const(OriginEvent.AdmitGet)),
        (3, Gen.Const(OriginEvent.AdmitPostWithoutKey)),
        (2, Gen.Const(OriginEvent.AdmitPostWithKey)),
        (2, Gen.Const(OriginEvent.Cancel)),
        (8, Gen.Const(OriginEvent.Respond)),
        (5, Gen.Const(OriginEvent.Advance)),
        (3, Gen.Const(OriginEvent.GrantToken)),
        (1, Gen.Const(OriginEvent.DenyToken)),
        (1, Gen.Const(OriginEvent.Crash)),
        (1, Gen.Const(OriginEvent.CrashWhileAnswering)),
        (1, Gen.Const(OriginEvent.CrashWhileAdmitting)),
        (1, Gen.Const(OriginEvent.CrashTwice)),
        (3, Gen.Const(OriginEvent.ReturnHook)),
        (1, Gen.Const(OriginEvent.Shutdown)));

    private static readonly Gen<OriginStep> Steps =
        Gen.Select(Events, Gen.Int[0, 10_000], Gen.Int[0, 10_000], (e, a, b) => new OriginStep(e, a, b));

    private static readonly Gen<(OriginShape Shape, int Seed, OriginStep[] Steps)> Sequences =
        Gen.Select(Shapes, Gen.Int, Steps.Array[1, 60]);

    /// <summary>Ends each sequence by answering and cancelling everything without moving the clock: a leak is a failure.</summary>
    [Fact]
    public void Generated_event_sequences_keep_every_promise_of_the_origin() =>
        Check(OriginEnd.AnswerAndCancel, Iterations);

    /// <summary>Ends each sequence by running the clock past every deadline: the deadlines alone answer everything.</summary>
    [Fact]
    public void Generated_event_sequences_end_by_their_deadlines_alone() =>
        Check(OriginEnd.RunOutTheClock, DeadlineIterations);

    /// <summary>
    /// Behind a call that never answers, requests are made ready for the slot and cancelled one by one, again and
    /// again: each leaves an entry in the hand-off's queue that no completing attempt will dequeue. The actor compacts
    /// them (the model checks the queue's size after every step); without that, this origin's queue would grow with
    /// every cancelled request for as long as the call hangs. The generated sequences rarely build this up.
    /// </summary>
    [Fact]
    public void Requests_made_ready_and_cancelled_one_by_one_behind_a_hung_call_do_not_pile_up()
    {
        var steps = new List<OriginStep> { new(OriginEvent.AdmitGet, 0, 0) }; // on the wire, never answered
        for (var i = 1; i <= 12; i++)
        {
            steps.Add(new OriginStep(OriginEvent.AdmitGet, i, 0)); // next in line: made ready
            steps.Add(new OriginStep(OriginEvent.Cancel, 1, 0));   // of the two live requests, the newest
        }

        var model = new OriginModel(_system, new OriginShape(1, 4, Auth: false, Dedup: false), seed: 1);
        var violations = model.Run([.. steps], OriginEnd.AnswerAndCancel);

        Assert.True(violations.Count == 0, string.Join("\n", violations));
        Assert.InRange(model.MostReadyEntries, 1, 3); // they were made ready, and their entries did not pile up
    }

    private void Check(OriginEnd end, long iterations)
    {
        var handedOff = 0L;
        Sequences.Sample(
            sequence =>
            {
                if (_hung)
                {
                    return; // an earlier sequence hung: its thread still runs on this system, the failure reported is its
                }

                var model = new OriginModel(_system, sequence.Shape, sequence.Seed);
                var violations = model.Run(sequence.Steps, end);
                _hung |= model.Hung;
                handedOff += model.HandedOff;
                Assert.True(violations.Count == 0, string.Join("\n", violations));
            },
            seed: Environment.GetEnvironmentVariable("NETACTORS_MODEL_SEED"),
            iter: iterations,
            threads: 1,
            print: s => $"{s.Shape}; jitter seed {s.Seed}; {s.Steps.Length} steps: {string.Join(", ", s.Steps)}");

        // The sequences exercised the hand-off of a slot from a completing attempt to the request next in line (not
        // only the actor's own pump): its interleavings with cancellation, deadlines, crashes and pauses were checked.
        Assert.True(_hung || Environment.GetEnvironmentVariable("NETACTORS_MODEL_SEED") is not null || handedOff > 0,
            $"no sequence of {iterations} handed a slot from a completing attempt to the next request");
    }

    public void Dispose()
    {
        if (_hung)
        {
            // A hung sequence's thread still holds one of its actors: the system cannot stop all of them.
            _system.Terminate().Wait(TimeSpan.FromSeconds(5));
            return;
        }

        _system.Dispose();
    }
}
