using System.Text.Json;

namespace NetActors.Auth;

/// <summary>The tokens of a realm as stored, with the version the runtime gave them.</summary>
/// <param name="Tokens">The tokens.</param>
/// <param name="Version">The token version; versions only grow.</param>
public sealed record StoredTokens(TokenSet Tokens, long Version);

/// <summary>
/// The fencing token of a stored session (cluster mode): the incarnation of the realm's singleton that wrote it
/// and the token version. It only grows: a new singleton claims the next incarnation before it acts, and each
/// incarnation numbers its tokens upwards. A store applies a write only when it carries a newer fence than what
/// it holds, so a stale singleton (frozen, partitioned, or in a second cluster) can never overwrite or end a
/// newer session.
/// </summary>
/// <param name="Incarnation">The singleton incarnation that holds the session; 0 before any singleton claimed it.</param>
/// <param name="Version">The token version.</param>
public readonly record struct FenceToken(long Incarnation, long Version) : IComparable<FenceToken>
{
    /// <inheritdoc />
    public int CompareTo(FenceToken other) =>
        Incarnation != other.Incarnation ? Incarnation.CompareTo(other.Incarnation) : Version.CompareTo(other.Version);

    /// <inheritdoc />
    public override string ToString() => $"{Incarnation}.{Version}";
}

/// <summary>
/// What a store holds for a realm, with its fence: the tokens, or none (never signed in, or the session ended;
/// the fence of an ended session is kept, so that a stale writer cannot bring the session back).
/// </summary>
/// <param name="Tokens">The tokens, or null.</param>
/// <param name="Fence">The fence of the last write.</param>
public sealed record FencedTokens(StoredTokens? Tokens, FenceToken Fence)
{
    /// <summary>What a store holds for a realm nobody has written.</summary>
    public static FencedTokens None { get; } = new(null, default);

    /// <summary>
    /// Whether this write may replace <paramref name="stored"/>: its fence is newer; or, at the same fence, it
    /// ends the session that <paramref name="stored"/> holds (an end is newer than the session it ends).
    /// </summary>
    /// <param name="stored">What the store holds now.</param>
    public bool Supersedes(FencedTokens stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var order = Fence.CompareTo(stored.Fence);
        return order > 0 || (order == 0 && Tokens is null && stored.Tokens is not null);
    }

    /// <summary>Never shows a token.</summary>
    public override string ToString() => $"FencedTokens {{ Fence = {Fence}, Session = {(Tokens is null ? "none" : "v" + Tokens.Version)} }}";
}

/// <summary>
/// Where a realm's tokens are kept between refreshes and across restarts. Loaded when the realm starts,
/// saved after each sign-in and refresh, cleared when the session ends. Implementations must be safe to call
/// from several threads and must never log token values.
/// <para>
/// Cluster mode (one session shared by a fleet) uses the fenced members: <see cref="LoadFencedAsync"/> and
/// <see cref="TryWriteAsync"/>. Their contract: <see cref="TryWriteAsync"/> is a compare-and-set, atomic against
/// every other writer of the same store (other threads, other processes): it applies the write, and returns true,
/// only when <see cref="FencedTokens.Supersedes"/> holds against what the store holds at that moment; otherwise
/// it changes nothing and returns false. An ended session is stored as no tokens with its fence, never by
/// forgetting the fence. A reader never sees a half-written record. The built-in stores meet it
/// (<see cref="SupportsFencing"/> is true); a store that does not override these members is not fenced, and cluster
/// mode warns at startup that a stale singleton could then overwrite a newer session. Test an implementation with
/// the conformance tests (<c>TokenStoreConformance</c> in the repository's tests).
/// </para>
/// </summary>
public interface ITokenStore
{
    /// <summary>The stored tokens of <paramref name="realm"/>, or null.</summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken);

    /// <summary>Stores the tokens of <paramref name="realm"/>, replacing what was there.</summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="tokens">The tokens and their version.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken);

    /// <summary>Removes the tokens of <paramref name="realm"/>.</summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    Task ClearAsync(string realm, CancellationToken cancellationToken);

    /// <summary>Whether <see cref="TryWriteAsync"/> is a real compare-and-set (false: the unfenced default below).</summary>
    bool SupportsFencing => false;

    /// <summary>What the store holds for <paramref name="realm"/>, with its fence.</summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    async Task<FencedTokens> LoadFencedAsync(string realm, CancellationToken cancellationToken)
    {
        var tokens = await LoadAsync(realm, cancellationToken).ConfigureAwait(false);
        return tokens is null ? FencedTokens.None : new FencedTokens(tokens, new FenceToken(0, tokens.Version));
    }

    /// <summary>
    /// Writes <paramref name="next"/> (tokens, or none: the session ended) only when it supersedes what the store
    /// holds; true when it was written. The default saves or clears without comparing, and always returns true.
    /// </summary>
    /// <param name="realm">The auth realm.</param>
    /// <param name="next">The record to write, with its fence.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    async Task<bool> TryWriteAsync(string realm, FencedTokens next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.Tokens is { } tokens)
        {
            await SaveAsync(realm, tokens, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ClearAsync(realm, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }
}

/// <summary>Keeps tokens in memory: they survive an actor restart, not a process restart. The default.</summary>
public sealed class MemoryTokenStore : ITokenStore
{
    private readonly Dictionary<string, FencedTokens> _records = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    /// <inheritdoc />
    public bool SupportsFencing => true;

    /// <inheritdoc />
    public Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken) =>
        Task.FromResult(Read(realm).Tokens);

    /// <inheritdoc />
    public Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        lock (_lock)
        {
            _records[realm] = new FencedTokens(tokens, Read(realm).Fence with { Version = tokens.Version });
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ClearAsync(string realm, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _records[realm] = Read(realm) with { Tokens = null };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<FencedTokens> LoadFencedAsync(string realm, CancellationToken cancellationToken) => Task.FromResult(Read(realm));

    /// <inheritdoc />
    public Task<bool> TryWriteAsync(string realm, FencedTokens next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_lock)
        {
            if (!next.Supersedes(Read(realm)))
            {
                return Task.FromResult(false);
            }

            _records[realm] = next;
            return Task.FromResult(true);
        }
    }

    private FencedTokens Read(string realm)
    {
        lock (_lock)
        {
            return _records.GetValueOrDefault(realm) ?? FencedTokens.None;
        }
    }
}

/// <summary>
/// Keeps tokens in one JSON file per realm in a directory, so a restarted service resumes its session. Writes
/// are atomic (a temporary file renamed over the old one) and, on Unix, the files are readable and writable by
/// the owner only (0600) in a directory only the owner can enter (0700). Fenced writes
/// (<see cref="TryWriteAsync"/>) compare and write under an exclusive lock on a lock file beside the token file,
/// held by an open handle (so the operating system releases it when a process dies, even by <c>kill -9</c>):
/// processes on one machine sharing the directory are fenced against each other.
/// </summary>
public sealed class FileTokenStore : ITokenStore
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);
    private readonly string _directory;
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>Creates a store in <paramref name="directory"/> (created if missing).</summary>
    /// <param name="directory">The directory for the token files.</param>
    public FileTokenStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _directory = Path.GetFullPath(directory);
    }

    /// <inheritdoc />
    public bool SupportsFencing => true;

    /// <summary>The file that holds <paramref name="realm"/>'s tokens.</summary>
    /// <param name="realm">The auth realm.</param>
    public string PathFor(string realm) =>
        Path.Combine(_directory, string.Concat(realm.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_')) + ".tokens.json");

    /// <inheritdoc />
    public async Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken) =>
        (await LoadFencedAsync(realm, cancellationToken).ConfigureAwait(false)).Tokens;

    /// <inheritdoc />
    public async Task<FencedTokens> LoadFencedAsync(string realm, CancellationToken cancellationToken)
    {
        var path = PathFor(realm);
        TokenFile? file;
        try
        {
            await using var stream = File.OpenRead(path);
            file = await JsonSerializer.DeserializeAsync<TokenFile>(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return FencedTokens.None;
        }
        catch (DirectoryNotFoundException)
        {
            return FencedTokens.None;
        }

        if (file is null)
        {
            return FencedTokens.None;
        }

        var fence = new FenceToken(file.Incarnation, file.Version);
        return file.AccessToken is null
            ? new FencedTokens(null, fence)
            : new FencedTokens(new StoredTokens(new TokenSet(file.AccessToken, file.RefreshToken, file.ExpiresAt), file.Version), fence);
    }

    /// <inheritdoc />
    public async Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        await WriteLockedAsync(realm, stored => new FencedTokens(tokens, stored.Fence with { Version = tokens.Version }),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task ClearAsync(string realm, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            File.Delete(PathFor(realm));
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public Task<bool> TryWriteAsync(string realm, FencedTokens next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        return WriteLockedAsync(realm, stored => next.Supersedes(stored) ? next : null, cancellationToken);
    }

    /// <summary>
    /// Under this store's lock and the realm's lock file: reads what is stored, asks <paramref name="decide"/> what
    /// to write (null: nothing), and writes it to a temporary file renamed over the token file.
    /// </summary>
    private async Task<bool> WriteLockedAsync(string realm, Func<FencedTokens, FencedTokens?> decide, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureDirectory();
            var path = PathFor(realm);
            await using var fileLock = await LockFileAsync(path + ".lock", cancellationToken).ConfigureAwait(false);
            if (decide(await LoadFencedAsync(realm, cancellationToken).ConfigureAwait(false)) is not { } next)
            {
                return false;
            }

            var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            await using (var stream = new FileStream(temp, OwnerOnly(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
            {
                var file = new TokenFile(next.Fence.Version, next.Tokens?.Tokens.AccessToken, next.Tokens?.Tokens.RefreshToken,
                    next.Tokens?.Tokens.ExpiresAt) { Incarnation = next.Fence.Incarnation };
                await JsonSerializer.SerializeAsync(stream, file, cancellationToken: cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            return true;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Opens the lock file exclusively (on Unix .NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/>),
    /// waiting while another process holds it, up to a bound.
    /// </summary>
    private static async Task<FileStream> LockFileAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + LockTimeout;
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            try
            {
                return new FileStream(path, OwnerOnly(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another writer holds the lock for the few milliseconds of a write: back off briefly and try again.
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
            }
        }
    }

    private static FileStreamOptions OwnerOnly(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    private void EnsureDirectory()
    {
        if (Directory.Exists(_directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(_directory);
        }
        else
        {
            Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private sealed record TokenFile(long Version, string? AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt)
    {
        /// <summary>The singleton incarnation that wrote the file (0 in files written before fencing, or by one process).</summary>
        public long Incarnation { get; init; }
    }
}

/// <summary>
/// The token store writes of a runtime that have not finished. The TokenActor does not wait for its store (a
/// grant is not delayed by I/O), so the runtime's shutdown waits here instead: a refresh token rotated just
/// before the service stops is saved before it stops.
/// </summary>
internal sealed class StoreWrites
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _pending = new();

    /// <summary>Tracks <paramref name="write"/> until it ends; returns it.</summary>
    public Task Track(Task write)
    {
        if (!write.IsCompleted)
        {
            _pending[write] = 0;
            write.ContinueWith(static (t, state) => ((StoreWrites)state!)._pending.TryRemove(t, out _), this,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return write;
    }

    /// <summary>Completes when every write tracked so far has ended (successfully or not), or at <paramref name="timeout"/>.</summary>
    public async Task WhenFinishedAsync(TimeSpan timeout)
    {
        var all = Task.WhenAll(_pending.Keys);
        await Task.WhenAny(all, Task.Delay(timeout)).ConfigureAwait(false);
    }
}
