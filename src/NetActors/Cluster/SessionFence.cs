using Akka.Actor;
using Akka.Event;
using NetActors.Auth;
using NetActors.Errors;

namespace NetActors.Cluster;

/// <summary>
/// The realm's token store as its cluster singleton sees it: every write carries the singleton's fence (its
/// incarnation and the token version), and the store applies it only when no newer singleton has claimed the
/// session. A singleton claims the next incarnation when it starts (it loads the store), checks that it still
/// holds the fence before every refresh (so a singleton that was frozen, or whose timer fired long after it was
/// due, re-reads the store before it acts), and learns from a rejected write or a failed check that it must step
/// down (<see cref="FenceLostException"/>). One per member and realm; each TokenActor started on the member
/// claims anew.
/// </summary>
internal sealed class FencedTokenStore(ITokenStore inner, ILoggingAdapter log) : ITokenStore
{
    private const int ClaimAttempts = 10;
    private long _incarnation;
    private readonly object _versionLock = new();
    private long _lastVersion;
    private int _lost;

    /// <summary>The store the fence guards.</summary>
    public ITokenStore Inner => inner;

    /// <summary>The incarnation this member's singleton claimed; 0 before it claimed one.</summary>
    public long Incarnation => Volatile.Read(ref _incarnation);

    /// <inheritdoc />
    public bool SupportsFencing => inner.SupportsFencing;

    /// <summary>Claims the next incarnation for the singleton starting on this member, then hands it the session.</summary>
    public async Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken) =>
        inner.SupportsFencing
            ? (await ClaimAsync(realm, cancellationToken).ConfigureAwait(false)).Tokens
            : await inner.LoadAsync(realm, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken)
    {
        if (!inner.SupportsFencing)
        {
            await inner.SaveAsync(realm, tokens, cancellationToken).ConfigureAwait(false);
            return;
        }

        await ClaimIfNeededAsync(realm, cancellationToken).ConfigureAwait(false);
        lock (_versionLock)
        {
            _lastVersion = Math.Max(_lastVersion, tokens.Version);
        }

        await WriteAsync(realm, new FencedTokens(tokens, new FenceToken(Incarnation, tokens.Version)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task ClearAsync(string realm, CancellationToken cancellationToken)
    {
        if (!inner.SupportsFencing)
        {
            await inner.ClearAsync(realm, cancellationToken).ConfigureAwait(false);
            return;
        }

        await ClaimIfNeededAsync(realm, cancellationToken).ConfigureAwait(false);
        long version;
        lock (_versionLock)
        {
            version = _lastVersion;
        }

        await WriteAsync(realm, new FencedTokens(null, new FenceToken(Incarnation, version)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<FencedTokens> LoadFencedAsync(string realm, CancellationToken cancellationToken) =>
        inner.LoadFencedAsync(realm, cancellationToken);

    /// <inheritdoc />
    public Task<bool> TryWriteAsync(string realm, FencedTokens next, CancellationToken cancellationToken) =>
        inner.TryWriteAsync(realm, next, cancellationToken);

    /// <summary>
    /// Re-reads the store: throws <see cref="FenceLostException"/> when a newer singleton has claimed the session
    /// (or this one already learnt it lost it). Called before every refresh.
    /// </summary>
    public async Task EnsureHeldAsync(string realm, CancellationToken cancellationToken)
    {
        if (!inner.SupportsFencing)
        {
            return;
        }

        await ClaimIfNeededAsync(realm, cancellationToken).ConfigureAwait(false);
        var stored = await inner.LoadFencedAsync(realm, cancellationToken).ConfigureAwait(false);
        if (Volatile.Read(ref _lost) != 0 || stored.Fence.Incarnation > Incarnation)
        {
            throw Lost(realm, stored.Fence);
        }
    }

    private async Task<FencedTokens> ClaimAsync(string realm, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var stored = await inner.LoadFencedAsync(realm, cancellationToken).ConfigureAwait(false);
            var claim = stored with { Fence = stored.Fence with { Incarnation = stored.Fence.Incarnation + 1 } };
            if (await inner.TryWriteAsync(realm, claim, cancellationToken).ConfigureAwait(false))
            {
                Volatile.Write(ref _incarnation, claim.Fence.Incarnation);
                lock (_versionLock)
                {
                    _lastVersion = claim.Fence.Version;
                }

                Volatile.Write(ref _lost, 0);
                log.Info("Auth realm {0}: this member's singleton holds the session's fence (incarnation {1}, token version {2})",
                    realm, claim.Fence.Incarnation, claim.Fence.Version);
                return claim;
            }

            if (attempt == ClaimAttempts)
            {
                throw new IOException($"Auth realm '{realm}': could not claim the session's fence in {ClaimAttempts} attempts: " +
                    "other singletons kept claiming it (are two clusters sharing one token store?).");
            }
        }
    }

    private async Task ClaimIfNeededAsync(string realm, CancellationToken cancellationToken)
    {
        if (Incarnation == 0)
        {
            await ClaimAsync(realm, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteAsync(string realm, FencedTokens next, CancellationToken cancellationToken)
    {
        if (await inner.TryWriteAsync(realm, next, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // Rejected: either this singleton's own later write is already there (writes are not awaited one by one,
        // so they may land out of order), which is fine; or a newer singleton holds the session.
        var stored = await inner.LoadFencedAsync(realm, cancellationToken).ConfigureAwait(false);
        if (stored.Fence.Incarnation > next.Fence.Incarnation)
        {
            throw Lost(realm, stored.Fence);
        }
    }

    private FenceLostException Lost(string realm, FenceToken newer)
    {
        Volatile.Write(ref _lost, 1);
        return new FenceLostException(realm, Incarnation, newer);
    }
}

/// <summary>The refresher of a realm's cluster singleton: nothing reaches the token endpoint unless the singleton still holds the fence.</summary>
internal sealed class FencedRefresher(ITokenRefresher inner, FencedTokenStore fence, Func<bool>? stopping = null) : ITokenRefresher
{
    /// <inheritdoc />
    public bool NeedsSession => inner.NeedsSession;

    /// <inheritdoc />
    public async Task<TokenSet> RefreshAsync(TokenRefreshContext context, CancellationToken cancellationToken)
    {
        // A stale singleton must not present the refresh token: with rotating refresh tokens, and a provider that
        // revokes the whole token family on reuse, that alone would log the fleet out.
        await fence.EnsureHeldAsync(context.Realm, cancellationToken).ConfigureAwait(false);
        try
        {
            return await inner.RefreshAsync(context, cancellationToken).ConfigureAwait(false);
        }
        // A member that is shutting down leaves the refresh to the next singleton: retrying against its own
        // closing HTTP path would only log the same failure until the shutdown times out.
        catch (Exception e) when (e is NetShutdownException || (stopping?.Invoke() == true && e is not TokenRejectedException))
        {
            throw new SingletonStoppingException();
        }
        catch (TokenRejectedException)
        {
            // Rejected: maybe because a newer singleton rotated the refresh token after the check above. Then this
            // one must step down, not end the newer session for every member.
            await fence.EnsureHeldAsync(context.Realm, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }
}
