using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;
using NetActors.Tests.Hosts;

namespace NetActors.Tests.Review;

/// <summary>
/// Hostile review of streamed responses (SendStreamAsync, StreamedBody). Tests marked Skip expose a bug: remove the
/// Skip argument to run them.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class StreamedResponseReviewTests
{
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(20);

    // ---------------------------------------------------------------- findings

    /// <summary>
    /// A zero-byte read (ReadAsync(Memory.Empty)) is the standard .NET way to wait for data without a buffer
    /// (PipeReader's useZeroByteReads, SslStream, Kestrel). The socket handler's content stream waits for data and
    /// returns 0; StreamedBody takes that 0 as the end of the body: it ends the stream, disposes the response
    /// (closes the connection) and frees the slot, and every later read returns 0: the body is silently truncated.
    /// </summary>
    [Fact]
    public async Task A_zero_byte_read_mid_body_does_not_end_the_stream()
    {
        await using var origin = await StreamOrigin.StartAsync();
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        Assert.Equal("head-", await ReadExactAsync(streamed.Body, 5));

        var zero = streamed.Body.ReadAsync(Memory<byte>.Empty).AsTask(); // waits for data, as the socket stream does
        origin.Gate.Open();
        Assert.Equal(0, await zero.WaitAsync(Safety));

        Assert.Equal("tail", await new StreamReader(streamed.Body).ReadToEndAsync().WaitAsync(Safety));
    }

    /// <summary>The same bug through a PipeReader with zero-byte reads on (a common ASP.NET/pipelines setting).</summary>
    [Fact]
    public async Task A_pipe_reader_with_zero_byte_reads_gets_the_whole_body()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);

        var reader = PipeReader.Create(streamed.Body, new StreamPipeReaderOptions(useZeroByteReads: true));
        var text = new StringBuilder();
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(Safety);
            foreach (var segment in result.Buffer)
            {
                text.Append(Encoding.UTF8.GetString(segment.Span));
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await reader.CompleteAsync();
        Assert.Equal("head-tail", text.ToString());
    }

    /// <summary>
    /// NetStreamedResponse documents "Reading after Dispose throws ObjectDisposedException", and CanRead is the .NET
    /// way to tell a disposed stream. A body read to its end and then disposed still says CanRead = true and a read
    /// returns 0.
    /// </summary>
    [Fact]
    public async Task A_body_read_to_its_end_then_disposed_behaves_as_disposed()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        Assert.Equal("head-tail", await new StreamReader(streamed.Body, leaveOpen: true).ReadToEndAsync().WaitAsync(Safety));

        streamed.Dispose();

        Assert.False(streamed.Body.CanRead);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => streamed.Body.ReadAsync(new byte[1]).AsTask());
    }

    // ---------------------------------------------------------------- edges that held

    /// <summary>
    /// Many streams on a cap of 6 from many threads: read to the end without dispose, disposed twice concurrently,
    /// disposed mid-body then read, read then disposed twice, or dropped undisposed (freed at its total timeout).
    /// Every request has one outcome, the ledger empties, the in-flight gauge is 0, the 6 slots are all usable after.
    /// </summary>
    [Fact]
    public async Task A_storm_of_streams_on_cap_6_frees_every_slot_once_and_the_gauge_returns_to_0()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithMaxConnections(6).WithQueueCapacity(10_000));
        using var metrics = new MetricsCapture(origin.Net.Services);
        await StormAsync(origin, midBodyDisposal: true);

        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members), TimeSpan.FromSeconds(15));
        Assert.Equal(0, origin.Ledger.Admitted);
        metrics.Sample();
        Assert.Equal(0, metrics.All.Last(m => m.Instrument == "netactors.origin.active_requests").Value);
        var six = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")))).WaitAsync(Safety);
        var seventh = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, origin.Ledger.Waiting)); // exactly 6 slots: none leaked, none extra
        foreach (var s in six)
        {
            await s.DisposeAsync();
        }

        Assert.Equal(HttpStatusCode.OK, (await seventh.WaitAsync(Safety)).StatusCode);
    }

    /// <summary>The same storm, every body read to its end: the server never sees more than 6 at once.</summary>
    [Fact]
    public async Task A_storm_of_streams_read_to_their_end_never_exceeds_the_cap_at_the_server()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithMaxConnections(6).WithQueueCapacity(10_000));
        await StormAsync(origin, midBodyDisposal: false);

        Assert.True(origin.Upstream.MaxConcurrent <= 6, $"the server saw {origin.Upstream.MaxConcurrent} at once");
    }

    private static async Task StormAsync(StreamOrigin origin, bool midBodyDisposal)
    {
        origin.Upstream.Map("/slow", async ctx =>
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/octet-stream";
            var chunk = new byte[512];
            for (var i = 0; i < 8 && !ctx.RequestAborted.IsCancellationRequested; i++)
            {
                await ctx.Response.Body.WriteAsync(chunk, ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                await Task.Yield();
            }
        });
        origin.Upstream.Map("/hang", async ctx =>
        {
            ctx.Response.StatusCode = 200;
            await ctx.Response.WriteAsync("x");
            await ctx.Response.Body.FlushAsync();
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        });

        const int n = 400;
        var wrong = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var tasks = Enumerable.Range(0, n).Select(i => Task.Run(async () =>
        {
            if (midBodyDisposal && i % 80 == 0)
            {
                // Dropped without dispose nor read: freed at its total timeout.
                _ = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/hang").WithTimeout(TimeSpan.FromSeconds(1)));
                return;
            }

            var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/slow").WithTimeout(TimeSpan.FromSeconds(60)));
            switch (midBodyDisposal ? i % 4 : 0)
            {
                case 1:
                    _ = await streamed.Body.ReadAsync(new byte[10]);
                    await Task.WhenAll(Task.Run(() => streamed.Dispose()), Task.Run(async () => await streamed.DisposeAsync()));
                    break;
                case 2:
                    await streamed.DisposeAsync();
                    try
                    {
                        _ = await streamed.Body.ReadAsync(new byte[10]);
                        wrong.Enqueue($"{i}: a read after dispose did not throw");
                    }
                    catch (ObjectDisposedException)
                    {
                    }

                    break;
                default:
                    await streamed.Body.CopyToAsync(Stream.Null);
                    if (i % 2 == 0)
                    {
                        streamed.Dispose();
                        await streamed.DisposeAsync();
                    }

                    if (i % 2 == 1 && await streamed.Body.ReadAsync(new byte[1]) != 0)
                    {
                        wrong.Enqueue($"{i}: a read after the end gave bytes"); // disposed ones throw (documented)
                    }

                    break;
            }
        })).ToArray();

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Empty(wrong);
    }

    /// <summary>A stream nobody references is collected: its slot still comes back at the total timeout.</summary>
    [Fact]
    public async Task A_dropped_and_collected_stream_frees_its_slot_at_the_total_timeout()
    {
        await using var origin = await StreamOrigin.StartAsync();

        var weak = await DropAStreamAsync(origin, TimeSpan.FromSeconds(1));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        var next = await origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        await origin.ServerSawStreamEnd.WaitAsync(Safety);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.False(weak.TryGetTarget(out _), "the ended stream is still referenced by the runtime");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference<NetStreamedResponse>> DropAStreamAsync(StreamOrigin origin, TimeSpan total)
    {
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream").WithTimeout(total)).WaitAsync(Safety);
        return new WeakReference<NetStreamedResponse>(streamed);
    }

    /// <summary>Dispose racing the total timeout, many times: one release each, the ledger never goes negative.</summary>
    [Fact]
    public async Task Dispose_racing_the_total_timeout_frees_each_slot_exactly_once()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithMaxConnections(2));
        var total = TimeSpan.FromMilliseconds(150);
        for (var i = 0; i < 15; i++)
        {
            var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream").WithTimeout(total)).WaitAsync(Safety);
            var race = Task.Run(async () =>
            {
                await Task.Delay(total - TimeSpan.FromMilliseconds(15 - i * 2)); // around the timeout, both sides of it
                await streamed.DisposeAsync();
            });
            var read = Task.Run(async () =>
            {
                try
                {
                    await streamed.Body.CopyToAsync(Stream.Null);
                    return null;
                }
                catch (Exception e)
                {
                    return e;
                }
            });
            await race.WaitAsync(Safety);
            var outcome = await read.WaitAsync(Safety);
            Assert.True(outcome is NetTimeoutException or ObjectDisposedException, $"iteration {i}: {outcome}");
            Assert.True(origin.Ledger.Admitted >= 0);
        }

        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
        var both = await Task.WhenAll(
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")),
            origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"))).WaitAsync(Safety);
        var third = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, origin.Ledger.Waiting)); // the cap is still 2, not more
        foreach (var s in both)
        {
            await s.DisposeAsync();
        }

        Assert.Equal(HttpStatusCode.OK, (await third.WaitAsync(Safety)).StatusCode);
    }

    /// <summary>A read pending when the total timeout fires throws the timeout, typed, not a network error.</summary>
    [Fact]
    public async Task A_read_pending_at_the_total_timeout_throws_the_timeout()
    {
        await using var origin = await StreamOrigin.StartAsync();
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream").WithTimeout(TimeSpan.FromMilliseconds(500))).WaitAsync(Safety);
        Assert.Equal("head-", await ReadExactAsync(streamed.Body, 5));

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => streamed.Body.ReadAsync(new byte[16]).AsTask().WaitAsync(Safety));

        Assert.Equal(TimeoutKind.Total, error.Kind);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    /// <summary>A server that streams chunked forever: the total timeout ends a reader that keeps reading.</summary>
    [Fact]
    public async Task A_chunked_forever_body_is_ended_by_the_total_timeout_while_it_is_read()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Upstream.Map("/forever", async ctx =>
        {
            ctx.Response.StatusCode = 200;
            var chunk = new byte[1024];
            while (!ctx.RequestAborted.IsCancellationRequested)
            {
                await ctx.Response.Body.WriteAsync(chunk, ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            }
        });
        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/forever").WithTimeout(TimeSpan.FromMilliseconds(700))).WaitAsync(Safety);

        var error = await Assert.ThrowsAsync<NetTimeoutException>(() => streamed.Body.CopyToAsync(Stream.Null).WaitAsync(Safety));

        Assert.Equal(TimeoutKind.Total, error.Kind);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(HttpStatusCode.OK, (await origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety)).StatusCode);
    }

    /// <summary>A server that sends more bytes than its Content-Length: the caller gets exactly Content-Length bytes.</summary>
    [Fact]
    public async Task A_server_sending_more_than_its_content_length_gives_exactly_the_declared_bytes()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Upstream.Map("/liar", async ctx =>
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentLength = 4;
            try
            {
                await ctx.Response.Body.WriteAsync("abcdefgh"u8.ToArray());
            }
            catch (InvalidOperationException)
            {
                await ctx.Response.Body.WriteAsync("abcd"u8.ToArray()); // Kestrel refuses the extra bytes
            }
        });

        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/liar")).WaitAsync(Safety);
        var text = await new StreamReader(streamed.Body).ReadToEndAsync().WaitAsync(Safety);

        Assert.Equal("abcd", text);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    /// <summary>A redirect before the stream is followed, and the stream is the target's.</summary>
    [Fact]
    public async Task A_redirect_before_the_headers_is_followed_and_the_target_streams()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Upstream.Map("/moved", ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = "/stream";
            return Task.CompletedTask;
        });

        await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/moved")).WaitAsync(Safety);

        Assert.EndsWith("/stream", streamed.Uri.AbsolutePath);
        Assert.Equal("head-", await ReadExactAsync(streamed.Body, 5));
        Assert.Single(origin.Ledger.InFlight); // the redirect freed nothing twice: one slot, held by the stream
        await streamed.DisposeAsync();
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
    }

    /// <summary>Cancelling after the body was read to its end changes nothing (no second release, no error).</summary>
    [Fact]
    public async Task Cancelling_after_the_end_of_the_body_is_harmless()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithMaxConnections(2));
        origin.Gate.Open();
        using var cts = new CancellationTokenSource();
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"), cts.Token).WaitAsync(Safety);
        Assert.Equal("head-tail", await new StreamReader(streamed.Body, leaveOpen: true).ReadToEndAsync().WaitAsync(Safety));

        cts.Cancel();
        Assert.Equal(0, await streamed.Body.ReadAsync(new byte[1])); // the end stays the end
        streamed.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => streamed.Body.ReadAsync(new byte[1]).AsTask());
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
    }

    /// <summary>Host shutdown with streams open and requests queued behind them: every one gets one typed outcome.</summary>
    [Fact]
    public async Task Shutdown_with_open_streams_and_queued_requests_gives_each_one_outcome()
    {
        var origin = await StreamOrigin.StartAsync(c => c.WithMaxConnections(3), hocon: "netactors.shutdown.drain-timeout = 200ms");
        var open = await Task.WhenAll(Enumerable.Range(0, 3)
            .Select(_ => origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")))).WaitAsync(Safety);
        var queued = Enumerable.Range(0, 5).Select(_ => origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"))).ToArray();
        await Eventually.Assert(() => Assert.Equal(5, origin.Ledger.Waiting));

        await origin.Net.Host.StopAsync().WaitAsync(Safety);

        foreach (var s in open)
        {
            await Assert.ThrowsAsync<NetShutdownException>(() => s.Body.ReadAsync(new byte[16]).AsTask().WaitAsync(Safety));
            s.Dispose();
        }

        foreach (var q in queued)
        {
            await Assert.ThrowsAnyAsync<NetException>(() => q.WaitAsync(Safety));
        }

        await Eventually.Assert(() => Assert.Equal(0, origin.Upstream.Current));
        Assert.True(origin.Upstream.MaxConcurrent <= 3);
        await origin.DisposeAsync();
    }

    /// <summary>
    /// Cancel at every moment: before the send, while queued, during the headers, at the hand-over, mid-body, after
    /// the end. Each request gets exactly one outcome, every slot comes back once, and the cap of 1 still holds.
    /// </summary>
    [Fact]
    public async Task Cancelling_at_every_moment_gives_one_outcome_and_frees_each_slot_once()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Gate.Open();
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        for (var i = 0; i < 80; i++)
        {
            using var cts = new CancellationTokenSource();
            var spins = i * 2_000;
            var cancel = Task.Run(() =>
            {
                Thread.SpinWait(spins);
                cts.Cancel();
            });
            string outcome;
            try
            {
                await using var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream"), cts.Token).WaitAsync(Safety);
                try
                {
                    var text = await new StreamReader(streamed.Body).ReadToEndAsync().WaitAsync(Safety);
                    outcome = text == "head-tail" ? "read" : $"truncated:{text}";
                }
                catch (OperationCanceledException)
                {
                    outcome = "cancelled-mid-body";
                }
            }
            catch (OperationCanceledException)
            {
                outcome = "cancelled";
            }

            await cancel.WaitAsync(Safety);
            outcomes.AddOrUpdate(outcome, 1, (_, c) => c + 1);
        }

        Console.WriteLine("cancel-at-every-moment outcomes: " + string.Join(", ", outcomes.Select(o => $"{o.Key}={o.Value}")));

        Assert.DoesNotContain(outcomes.Keys, k => k.StartsWith("truncated", StringComparison.Ordinal));
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
        origin.Upstream.Map("/held", async ctx =>
        {
            await ctx.Response.WriteAsync("x");
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { });
        });
        var held = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/held")).WaitAsync(Safety);
        var next = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, origin.Ledger.Waiting)); // the cap of 1 holds
        await held.DisposeAsync();
        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(Safety)).StatusCode);
    }

    /// <summary>Dispose from another thread while a read is pending: the read throws ObjectDisposedException, not a network error.</summary>
    [Fact]
    public async Task Dispose_from_another_thread_during_a_pending_read_fails_the_read_as_disposed()
    {
        await using var origin = await StreamOrigin.StartAsync();
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        Assert.Equal("head-", await ReadExactAsync(streamed.Body, 5));
        var pending = streamed.Body.ReadAsync(new byte[16]).AsTask();

        await Task.Run(() => streamed.Dispose()).WaitAsync(Safety);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(Safety));
        await origin.ServerSawStreamEnd.WaitAsync(Safety);
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
    }

    /// <summary>HEAD, 204 and Content-Length: 0 have no body to stream: the slot is free when the caller gets them, undisposed.</summary>
    [Fact]
    public async Task Bodiless_answers_free_the_slot_before_the_caller_disposes_them()
    {
        await using var origin = await StreamOrigin.StartAsync();
        origin.Upstream.Respond("/empty", 204);
        origin.Upstream.Map("/zero", ctx =>
        {
            ctx.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        var head = await origin.Net.Client.SendStreamAsync(new NetRequest("api", HttpMethod.Head, "/ok")).WaitAsync(Safety);
        var empty = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/empty")).WaitAsync(Safety);
        var zero = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/zero")).WaitAsync(Safety); // cap 1: only if freed

        Assert.Equal(HttpStatusCode.NoContent, empty.StatusCode);
        Assert.Equal(0, await zero.Body.ReadAsync(new byte[1]));
        Assert.Equal(0, await head.Body.ReadAsync(new byte[1]));
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
    }

    /// <summary>
    /// The admission bound (max-connections + queue-capacity = 2): an open stream keeps its place, so with one queued
    /// behind it a third is refused at the edge; once the stream is disposed its place is back at once.
    /// </summary>
    [Fact]
    public async Task An_open_stream_keeps_its_place_in_the_bound_and_gives_it_back_once_disposed()
    {
        await using var origin = await StreamOrigin.StartAsync(c => c.WithQueueCapacity(1));
        var streamed = await origin.Net.Client.SendStreamAsync(NetRequest.Get("api", "/stream")).WaitAsync(Safety);
        var queued = origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"));
        await Eventually.Assert(() => Assert.Equal(1, origin.Ledger.Waiting));

        await Assert.ThrowsAsync<OverloadedException>(() => origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")).WaitAsync(Safety));

        await streamed.DisposeAsync();
        Assert.Equal(HttpStatusCode.OK, (await queued.WaitAsync(Safety)).StatusCode);
        var again = await Task.WhenAll(
            origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok")),
            origin.Net.Client.SendAsync(NetRequest.Get("api", "/ok"))).WaitAsync(Safety);
        Assert.All(again, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        await Eventually.Assert(() => Assert.Empty(origin.Ledger.Members));
        Assert.Equal(0, origin.Ledger.Admitted);
    }

    private static async Task<string> ReadExactAsync(Stream body, int bytes)
    {
        var buffer = new byte[bytes];
        await body.ReadExactlyAsync(buffer).AsTask().WaitAsync(Safety);
        return Encoding.UTF8.GetString(buffer);
    }
}
