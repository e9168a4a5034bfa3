using System.Buffers;

namespace NetActors.Hosts;

/// <summary>Reads a response body whole, refusing to read past the size limit.</summary>
internal static class BodyReader
{
    public static async ValueTask<ReadOnlyMemory<byte>> ReadAsync(HttpContent content, long limit, CancellationToken ct)
    {
        var declared = content.Headers.ContentLength;
        if (declared > limit)
        {
            throw new BodyTooLargeException(limit, declared);
        }

        if (declared == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        if (declared is long length)
        {
            var exact = new byte[length];
            await stream.ReadExactlyAsync(exact, ct).ConfigureAwait(false);
            return exact;
        }

        // Unknown length (chunked): grow a pooled buffer, stop one byte past the limit.
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var total = 0;
        try
        {
            while (true)
            {
                if (total == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, total).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(total), ct).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
                if (total > limit)
                {
                    throw new BodyTooLargeException(limit, null);
                }
            }

            return buffer.AsSpan(0, total).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Internal signal: the body is over the limit. Mapped to ResponseTooLargeException by the host.</summary>
internal sealed class BodyTooLargeException(long limit, long? declared) : Exception("Response body over the limit.")
{
    public long Limit { get; } = limit;

    public long? Declared { get; } = declared;
}
