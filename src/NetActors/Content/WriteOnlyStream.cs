namespace NetActors.Content;

/// <summary>
/// A write-only pass-through to <paramref name="target"/> that a request body is copied into: a derived stream
/// checks each write before it goes (<see cref="BeforeWrite"/>), counts it once it went (<see cref="AfterWrite"/>)
/// and learns when the target itself failed (<see cref="OnTargetFailed"/>); the failure is rethrown as it was.
/// </summary>
internal abstract class WriteOnlyStream(Stream target) : Stream
{
    /// <summary>Bytes passed on to the target so far.</summary>
    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    /// <summary>Called before <paramref name="count"/> bytes are written; may throw to refuse them.</summary>
    protected virtual void BeforeWrite(int count)
    {
    }

    /// <summary>Called once <paramref name="count"/> bytes were written (<see cref="Written"/> counts them already).</summary>
    protected virtual void AfterWrite(int count)
    {
    }

    /// <summary>Called when a write or flush of the target threw, before the exception goes on.</summary>
    protected virtual void OnTargetFailed()
    {
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        BeforeWrite(count);
        try
        {
            target.Write(buffer, offset, count);
        }
        catch
        {
            OnTargetFailed();
            throw;
        }

        Written += count;
        AfterWrite(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BeforeWrite(buffer.Length);
        try
        {
            await target.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            OnTargetFailed();
            throw;
        }

        Written += buffer.Length;
        AfterWrite(buffer.Length);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        try
        {
            target.Flush();
        }
        catch
        {
            OnTargetFailed();
            throw;
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            OnTargetFailed();
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
