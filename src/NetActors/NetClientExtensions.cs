using System.Runtime.CompilerServices;
using System.Text.Json;
using NetActors.Errors;

namespace NetActors;

/// <summary>Pagination and downloads on top of <see cref="INetClient.SendAsync"/>: every page and every download goes through the full pipeline.</summary>
public static class NetClientExtensions
{
    /// <summary>
    /// Reads a paginated collection item by item: each page is one request through the runtime (auth, caps,
    /// retries, cache), read when the previous page's items are used up. Cancelling stops it between pages and
    /// aborts a page in flight. A page that is not what <paramref name="paging"/> describes, or a next page that
    /// repeats an earlier one, fails with <see cref="ResponseFormatException"/>.
    /// </summary>
    /// <typeparam name="T">The item type, read with the client's JSON options.</typeparam>
    /// <param name="net">The client.</param>
    /// <param name="first">The first page's request.</param>
    /// <param name="paging">Where the items and the next page are.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    public static async IAsyncEnumerable<T> PaginateAsync<T>(this INetClient net, NetRequest first, Paging paging,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(paging);
        var request = paging.First(first);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        for (var pageIndex = 0; request is not null; pageIndex++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var response = await net.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!visited.Add(response.Uri.AbsoluteUri))
            {
                throw response.FormatError($"page {pageIndex + 1} repeats an earlier page ({response.Uri.AbsolutePath}): the collection would never end.");
            }

            if (pageIndex + 1 > paging.MaxPages)
            {
                throw response.FormatError($"the collection did not end within {paging.MaxPages} pages (Paging.MaxPages).");
            }

            var (items, next) = ReadPage<T>(response, paging, request, pageIndex);
            foreach (var item in items)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return item;
            }

            request = next;
        }
    }

    private static (List<T> Items, NetRequest? Next) ReadPage<T>(NetResponse response, Paging paging, NetRequest request, int pageIndex)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(response.Body);
        }
        catch (JsonException e)
        {
            throw response.FormatError($"page {pageIndex + 1} is not JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            var where = string.IsNullOrEmpty(paging.ItemsPath) ? "$" : "$." + paging.ItemsPath;
            if (!Paging.TryFind(root, paging.ItemsPath, out var array) || array.ValueKind != JsonValueKind.Array)
            {
                throw response.FormatError($"page {pageIndex + 1} has no items array at {where}.");
            }

            var items = new List<T>(array.GetArrayLength());
            var i = 0;
            foreach (var element in array.EnumerateArray())
            {
                items.Add(response.ReadJsonElement<T>(element, $"{where}[{i++}]"));
            }

            return (items, paging.Next(request, response, root, items.Count, pageIndex));
        }
    }

    /// <summary>
    /// Downloads a response body to <paramref name="path"/>: streamed (not held in memory) into a temporary file
    /// beside it, and moved into place only when the request succeeded, so a failed or cancelled download never
    /// leaves a partial file at <paramref name="path"/>. An existing file there is replaced. The body is not
    /// bounded by <c>max-response-size</c>; one attempt may take the whole total timeout (use
    /// <see cref="NetRequest.WithTimeout"/> for large files).
    /// </summary>
    /// <param name="net">The client.</param>
    /// <param name="request">The request (usually a GET).</param>
    /// <param name="path">Where the file goes; its directory must exist.</param>
    /// <param name="progress">Receives bytes received and the total (from Content-Length), per attempt.</param>
    /// <param name="cancellationToken">Cancels the download; the temporary file is deleted.</param>
    public static async Task<DownloadResult> DownloadAsync(this INetClient net, NetRequest request, string path,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var target = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(directory))
        {
            throw new InvalidRequestException(
                new NetRequestInfo(request.Client, request.Method.Method, RedactionSettings.Default.Url(request.Url), 0),
                $"the download's directory '{directory}' does not exist.");
        }

        var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.part");
        try
        {
            var response = await net.SendAsync(request with
            {
                Download = new DownloadTarget(temp, progress),
                NoDeduplication = true,
            }, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                // An error page (AllowErrorStatus) or an unfollowed redirect is never the file.
                throw HttpStatusException.For(response.StatusCode, new NetRequestInfo(request.Client, request.Method.Method,
                    RedactionSettings.Default.Url(response.Uri), response.Attempts), null, null);
            }

            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (!File.Exists(temp))
                {
                    File.WriteAllBytes(temp, []); // a 2xx without a body, such as 204
                }

                File.Move(temp, target, overwrite: true);
                return new DownloadResult(target, new FileInfo(target).Length, response);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The body arrived; putting it in place failed on the disk (the target is a directory, say).
                throw new DownloadWriteException(new NetRequestInfo(request.Client, request.Method.Method,
                    RedactionSettings.Default.Url(response.Uri), response.Attempts), e);
            }
        }
        finally
        {
            DownloadTarget.TryDelete(temp); // gone already after a successful move
        }
    }
}

/// <summary>A completed download.</summary>
/// <param name="Path">The full path of the file.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Response">The response (status and headers; its <see cref="NetResponse.Body"/> is empty).</param>
public sealed record DownloadResult(string Path, long Length, NetResponse Response);
