using System.Buffers.Binary;
using System.IO.Compression;

namespace NetActors.Hosts;

/// <summary>
/// A gzip body that stops before its trailer decodes, with .NET's <see cref="GZipStream"/>, to a normal end: the
/// caller would get the first part of the body as if it were all of it. Every gzip member ends with its decoded
/// size (ISIZE, RFC 1952, modulo 2³²), so at the end this checks the last one against what was decoded: a body
/// cut short leaves arbitrary bytes there, which claim more than was decoded, almost surely. The check has no false
/// alarm on a complete body: a single member's ISIZE is the decoded size, and the last of several members claims
/// less than the total. (A body of 4 GiB or more is not checked: ISIZE wraps; an empty body is left to the decoder.)
/// </summary>
internal static class GzipEndCheck
{
    /// <summary>The decoded stream of <paramref name="encoded"/>, failing its last read when the body was cut short.</summary>
    public static Stream Decode(Stream encoded)
    {
        var tail = new TailStream(encoded);
        return new CheckedStream(new GZipStream(tail, CompressionMode.Decompress), tail);
    }

    /// <summary>The encoded stream as the decoder reads it, keeping its last 8 bytes (a member's CRC32 and ISIZE).</summary>
    private sealed class TailStream(Stream inner) : ReadOnlyStream
    {
        private readonly byte[] _tail = new byte[8];

        public long Total { get; private set; }

        /// <summary>The last 4 bytes read, little-endian: the last member's ISIZE, if the body was complete.</summary>
        public uint LastFour => BinaryPrimitives.ReadUInt32LittleEndian(_tail.AsSpan(4));

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            Keep(buffer[..read]);
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Keep(buffer.Span[..read]);
            return read;
        }

        private void Keep(ReadOnlySpan<byte> read)
        {
            if (read.Length >= 8)
            {
                read[^8..].CopyTo(_tail);
            }
            else if (read.Length > 0)
            {
                _tail.AsSpan(read.Length).CopyTo(_tail); // shift left by what came in
                read.CopyTo(_tail.AsSpan(8 - read.Length));
            }

            Total += read.Length;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>The decoded stream, counting what it hands out and checking the end.</summary>
    private sealed class CheckedStream(GZipStream decoder, TailStream tail) : ReadOnlyStream
    {
        private long _decoded;

        public override int Read(Span<byte> buffer) => Counted(decoder.Read(buffer), buffer.Length);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await decoder.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);

        private int Counted(int read, int asked)
        {
            if (read > 0 || asked == 0)
            {
                _decoded += read;
                return read;
            }

            // The end. A complete body's last member claims at most what was decoded; one cut short claims anything.
            if (tail.Total > 0 && _decoded < 1L << 32 && (tail.Total < 18 || tail.LastFour > _decoded))
            {
                throw new InvalidDataException(
                    $"the gzip body ended before its trailer: {_decoded} bytes were decoded from {tail.Total} (it was cut short)");
            }

            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                decoder.Dispose();
            }

            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => decoder.DisposeAsync();
    }

    /// <summary>What both streams here share: read-only, not seekable, the array overloads on the span ones.</summary>
    private abstract class ReadOnlyStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public abstract override int Read(Span<byte> buffer);

        public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
