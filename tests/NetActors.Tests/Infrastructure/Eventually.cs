using System.Collections.Concurrent;
using Akka.Actor;

namespace NetActors.Tests.Infrastructure;

/// <summary>Polls an assertion until it holds or a deadline passes (like TestKit's AwaitAssert, for plain tests).</summary>
public static class Eventually
{
    public static async Task Assert(Action assertion, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            try
            {
                assertion();
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);   // polling interval
            }
        }
    }

    /// <summary>
    /// Polls an assertion that awaits (a request, a health check) until it holds or a deadline passes. Each try
    /// is awaited with the time left: a try that never ends fails the test instead of blocking a test thread.
    /// </summary>
    public static async Task AssertAsync(Func<Task> assertion, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            try
            {
                var left = deadline - DateTime.UtcNow;
                await assertion().WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);   // polling interval
            }
        }
    }
}

/// <summary>Collects the events of type <typeparamref name="T"/> published on an actor system's event stream.</summary>
public sealed class EventCollector<T> : ReceiveActor
{
    public EventCollector(ConcurrentQueue<T> sink)
    {
        Receive<T>(sink.Enqueue);
    }
}

/// <summary>Subscribes a collector to the event stream.</summary>
public static class Events
{
    public static ConcurrentQueue<T> Collect<T>(ActorSystem system)
    {
        var sink = new ConcurrentQueue<T>();
        var collector = system.ActorOf(Props.Create(() => new EventCollector<T>(sink)));
        system.EventStream.Subscribe(collector, typeof(T));
        return sink;
    }
}
