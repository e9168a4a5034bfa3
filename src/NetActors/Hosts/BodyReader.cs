using System.Buffers;

namespace NetActors.Hosts;

/// <summary>Reads a response body whole, refusing to read past the size limit.</summary>
internal static class BodyReader
{
    /// <summary>
    /// The content type of a response read from a <see cref="SocketsHttpHandler"/> connection. Its synchronous
    /// <see cref="HttpContent.ReadAsStream(CancellationToken)"/> returns the connection's stream without blocking;
    /// any other content (a custom handler's, a decoded one) is opened asynchronously, as it may have to buffer.
    /// </summary>
    private static readonly Type? ConnectionContent =
        typeof(SocketsHttpHandler).Assembly.GetType("System.Net.Http.HttpConnectionResponseContent");

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

        await using var stream = content.GetType() == ConnectionContent
            ? content.ReadAsStream(ct) // the connection's own stream, handed over at once (no Task<Stream> per response)
            : await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
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

    /// <summary>
    /// Streams a download's body into its temporary file (created anew for each attempt), reporting progress.
    /// On any failure the temporary file is deleted; the caller moves it into place once the request succeeded.
    /// </summary>
    public static async ValueTask<ReadOnlyMemory<byte>> WriteToFileAsync(HttpContent content, DownloadTarget target,
        int attempt, CancellationToken ct)
    {
        var total = content.Headers.ContentLength;
        try
        {
            await using (var file = Local(() => new FileStream(target.TempPath, FileMode.Create, FileAccess.Write,
                FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan)))
            {
                await using var body = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    long written = 0;
                    long reported = 0;
                    int read;
                    while ((read = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                    {
                        await LocalAsync(() => file.WriteAsync(buffer.AsMemory(0, read), ct)).ConfigureAwait(false);
                        written += read;
                        if (target.Progress is { } progress && written - reported >= 64 * 1024)
                        {
                            reported = written;
                            Report(progress, new TransferProgress(written, total, attempt));
                        }
                    }

                    await LocalAsync(() => new ValueTask(file.FlushAsync(ct))).ConfigureAwait(false); // a full disk can show here first
                    if (target.Progress is { } done)
                    {
                        Report(done, new TransferProgress(written, total, attempt));
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            return ReadOnlyMemory<byte>.Empty;
        }
        catch
        {
            TryDelete(target.TempPath);
            throw;
        }
    }

    /// <summary>Reports progress; whatever the caller's reporter throws is the caller's (<see cref="DownloadProgressFailure"/>).</summary>
    private static void Report(IProgress<TransferProgress> progress, TransferProgress value)
    {
        try
        {
            progress.Report(value);
        }
        catch (Exception e)
        {
            throw new DownloadProgressFailure(e);
        }
    }

    /// <summary>Opens the download's file; a failure here is local (<see cref="DownloadFileFailure"/>).</summary>
    private static FileStream Local(Func<FileStream> open)
    {
        try
        {
            return open();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DownloadFileFailure(e);
        }
    }

    /// <summary>Writes to the download's file; a failure here is local (<see cref="DownloadFileFailure"/>).</summary>
    private static async ValueTask LocalAsync(Func<ValueTask> write)
    {
        try
        {
            await write().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DownloadFileFailure(e); // the disk, not the connection
        }
    }

    public static void TryDelete(string path) => DownloadTarget.TryDelete(path);
}

// ecosystem: DownloadTarget moved to Content/DownloadTarget.cs (a public type: NetRequest exposes only public types)

/// <summary>
/// Internal signal: the download's file could not be opened or written (an <see cref="IOException"/> that is the
/// disk's, not the connection's). Mapped to DownloadWriteException: not retried, not counted against the origin.
/// </summary>
internal sealed class DownloadFileFailure(Exception inner) : Exception("The download's file could not be written.", inner);

/// <summary>Internal signal: the download's progress reporter threw (the caller's code). Mapped to InvalidRequestException.</summary>
internal sealed class DownloadProgressFailure(Exception inner) : Exception("The download's progress reporter threw.", inner);

/// <summary>Internal signal: the body is over the limit. Mapped to ResponseTooLargeException by the host.</summary>
internal sealed class BodyTooLargeException(long limit, long? declared) : Exception("Response body over the limit.")
{
    public long Limit { get; } = limit;

    public long? Declared { get; } = declared;
}
