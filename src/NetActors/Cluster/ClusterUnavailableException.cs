namespace NetActors.Errors;

/// <summary>
/// Cluster mode: the realm's singleton cannot be reached (this member has not joined a cluster, no seed node
/// answered, or the singleton is moving and did not answer in time), so no token or session call could be served.
/// It says nothing about the upstream: retry once the member has joined.
/// </summary>
/// <param name="info">The request, if one was waiting.</param>
/// <param name="realm">The auth realm.</param>
/// <param name="reason">What was not reachable.</param>
public sealed class ClusterUnavailableException(NetRequestInfo? info, string realm, string reason)
    : NetException($"auth realm '{realm}' is not available: {reason}", info, null)
{
    /// <summary>The auth realm.</summary>
    public string Realm { get; } = realm;
}
