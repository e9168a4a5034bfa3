namespace NetActors.Content;

/// <summary>
/// Where <see cref="NetClientExtensions.DownloadAsync"/> writes a response body: a temporary file next to the
/// destination, moved into place when the body is complete. Set on a request by <c>DownloadAsync</c> only; it has
/// no public members.
/// </summary>
public sealed class DownloadTarget
{
    internal DownloadTarget(string tempPath, IProgress<TransferProgress>? progress)
    {
        TempPath = tempPath;
        Progress = progress;
    }

    /// <summary>The temporary file the body is written to.</summary>
    internal string TempPath { get; }

    /// <summary>Receives the progress of the download, if anyone asked.</summary>
    internal IProgress<TransferProgress>? Progress { get; }

    /// <summary>Deletes a temporary file, best effort: one that cannot be deleted is never the target file.</summary>
    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a temporary file that cannot be deleted is never the target file.
        }
    }
}
