using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Infrastructure;

/// <summary>What the upstream read of one request body: every byte (chunked or not) and its content headers.</summary>
public sealed record ReceivedBody(string Method, string Path, string? ContentType, long? ContentLength,
    string? IdempotencyKey, byte[] Bytes);

/// <summary>
/// Reads whole request bodies on the upstream (with or without Content-Length) and keeps them, so a test can
/// compare what the server received with what the caller sent, byte for byte.
/// </summary>
public sealed class BodyRecorder
{
    private readonly ConcurrentQueue<ReceivedBody> _bodies = new();

    public IReadOnlyList<ReceivedBody> Bodies => _bodies.ToArray();

    /// <summary>Records the body, then answers 200 with a small JSON object.</summary>
    public Func<HttpContext, Task> Ok => ctx => RecordAsync(ctx, 200);

    /// <summary>Records the body; the first <paramref name="failures"/> requests get 503, the rest 200.</summary>
    public Func<HttpContext, Task> FailingFirst(int failures)
    {
        var seen = 0;
        return ctx => RecordAsync(ctx, Interlocked.Increment(ref seen) <= failures ? 503 : 200);
    }

    private async Task RecordAsync(HttpContext ctx, int status)
    {
        using var memory = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(memory, ctx.RequestAborted);
        _bodies.Enqueue(new ReceivedBody(ctx.Request.Method, ctx.Request.Path.Value ?? "", ctx.Request.ContentType,
            ctx.Request.ContentLength, ctx.Request.Headers["Idempotency-Key"].FirstOrDefault(), memory.ToArray()));
        await TestUpstream.Write(ctx, status, "{\"ok\":true}");
    }
}

/// <summary>A read-only stream that cannot seek: a body that can be read once, like a network or pipe stream.</summary>
public sealed class OneWayStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 4096));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.ReadAsync(buffer[..Math.Min(buffer.Length, 4096)], cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
