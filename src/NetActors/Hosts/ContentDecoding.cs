using System.IO.Compression;
using System.Net;

namespace NetActors.Hosts;

/// <summary>
/// Transparent response decompression (gzip and br offered; deflate decoded when a server sends it anyway), done
/// by the runtime rather than by the socket handler's <c>AutomaticDecompression</c>. The handler parses and
/// rebuilds the request's Accept-Encoding header on every request (about 500 bytes and a few µs each); here the
/// header is one constant value, and a response is looked at only when it declares a Content-Encoding. The rules
/// are the handler's: only the last coding is undone, that coding and Content-Length are dropped from the content
/// headers, and the size limit applies to the decoded bytes.
/// </summary>
internal static class ContentDecoding
{
    /// <summary>What every request offers, unless it sets its own Accept-Encoding.</summary>
    public const string Offered = "gzip, br";

    /// <summary>Offers <see cref="Offered"/> unless the request has its own Accept-Encoding header.</summary>
    public static void Offer(HttpRequestMessage message)
    {
        if (!message.Headers.NonValidated.Contains("Accept-Encoding"))
        {
            message.Headers.TryAddWithoutValidation("Accept-Encoding", Offered);
        }
    }

    /// <summary>Replaces an encoded response body by its decoded form (a body-less response is left alone).</summary>
    public static void Apply(HttpResponseMessage response, HttpMethod method)
    {
        var content = response.Content;
        if (method == HttpMethod.Head || response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotModified ||
            !content.Headers.NonValidated.TryGetValues("Content-Encoding", out var values))
        {
            return;
        }

        var codings = new List<string>();
        foreach (var value in values)
        {
            codings.AddRange(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        if (codings.Count > 0 && DecoderFor(codings[^1]) is { } decoder)
        {
            codings.RemoveAt(codings.Count - 1);
            response.Content = new DecodedContent(content, decoder, codings);
        }
    }

    private static Func<Stream, Stream>? DecoderFor(string coding) => coding.ToLowerInvariant() switch
    {
        "gzip" or "x-gzip" => static s => GzipEndCheck.Decode(s), // a body cut short fails instead of ending early
        "br" => static s => new BrotliStream(s, CompressionMode.Decompress),
        "deflate" => static s => new ZLibStream(s, CompressionMode.Decompress), // RFC 9110: "deflate" is zlib
        _ => null,
    };

    /// <summary>The decoded body of an encoded one, with the encoded one's headers but its length and last coding.</summary>
    private sealed class DecodedContent : HttpContent
    {
        private readonly HttpContent _encoded;
        private readonly Func<Stream, Stream> _decoder;

        public DecodedContent(HttpContent encoded, Func<Stream, Stream> decoder, IEnumerable<string> remainingCodings)
        {
            _encoded = encoded;
            _decoder = decoder;
            foreach (var (name, values) in encoded.Headers.NonValidated)
            {
                if (!name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase) &&
                    !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    Headers.TryAddWithoutValidation(name, values);
                }
            }

            foreach (var coding in remainingCodings)
            {
                Headers.TryAddWithoutValidation("Content-Encoding", coding);
            }
        }

        protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
            _decoder(_encoded.ReadAsStream(cancellationToken));

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            _decoder(await _encoded.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context,
            CancellationToken cancellationToken)
        {
            await using var decoded = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await decoded.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        /// <summary>
        /// Frees the encoded content (its connection). The base is not marked disposed: these headers outlive the
        /// response in <see cref="NetResponse.ContentHeaders"/>, and asking a disposed content for its length
        /// (there is no Content-Length header any more) would throw. This content buffers nothing of its own.
        /// </summary>
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _encoded.Dispose();
            }
        }
    }
}
