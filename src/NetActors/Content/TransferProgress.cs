namespace NetActors.Content;

/// <summary>
/// How far a body transfer has come: an upload (<see cref="NetRequest.WithUploadProgress"/>) or a download
/// (<see cref="NetClientExtensions.DownloadAsync"/>). A retried upload starts again from zero with the next
/// <see cref="Attempt"/>.
/// </summary>
/// <param name="Bytes">Bytes transferred so far in this attempt.</param>
/// <param name="Total">The total, when known.</param>
/// <param name="Attempt">The attempt (1 for the first) this progress belongs to.</param>
public readonly record struct TransferProgress(long Bytes, long? Total, int Attempt)
{
    /// <summary>Bytes / Total, or null when the total is unknown.</summary>
    public double? Fraction => Total is > 0 ? (double)Bytes / Total.Value : null;
}
