using System.Collections.Concurrent;
using System.Text.Json;

namespace NetActors.Auth;

/// <summary>The tokens of a realm as stored, with the version the runtime gave them.</summary>
/// <param name="Tokens">The tokens.</param>
/// <param name="Version">The token version; versions only grow.</param>
public sealed record StoredTokens(TokenSet Tokens, long Version);

/// <summary>
/// Where a realm's tokens are kept between refreshes and across restarts. Loaded when the realm starts,
/// saved after each sign-in and refresh, cleared when the session ends. Implementations must be safe to call
/// from several threads and must never log token values.
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
}

/// <summary>Keeps tokens in memory: they survive an actor restart, not a process restart. The default.</summary>
public sealed class MemoryTokenStore : ITokenStore
{
    private readonly ConcurrentDictionary<string, StoredTokens> _tokens = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken) =>
        Task.FromResult(_tokens.GetValueOrDefault(realm));

    /// <inheritdoc />
    public Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken)
    {
        _tokens[realm] = tokens;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ClearAsync(string realm, CancellationToken cancellationToken)
    {
        _tokens.TryRemove(realm, out _);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Keeps tokens in one JSON file per realm in a directory, so a restarted service resumes its session. Writes
/// are atomic (a temporary file renamed over the old one) and, on Unix, the files are readable and writable by
/// the owner only (0600) in a directory only the owner can enter (0700).
/// </summary>
public sealed class FileTokenStore : ITokenStore
{
    private readonly string _directory;
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>Creates a store in <paramref name="directory"/> (created if missing).</summary>
    /// <param name="directory">The directory for the token files.</param>
    public FileTokenStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _directory = Path.GetFullPath(directory);
    }

    /// <summary>The file that holds <paramref name="realm"/>'s tokens.</summary>
    /// <param name="realm">The auth realm.</param>
    public string PathFor(string realm) =>
        Path.Combine(_directory, string.Concat(realm.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_')) + ".tokens.json");

    /// <inheritdoc />
    public async Task<StoredTokens?> LoadAsync(string realm, CancellationToken cancellationToken)
    {
        var path = PathFor(realm);
        if (!File.Exists(path))
        {
            return null;
        }

        await using var stream = File.OpenRead(path);
        var file = await JsonSerializer.DeserializeAsync<TokenFile>(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        return file?.AccessToken is null
            ? null
            : new StoredTokens(new TokenSet(file.AccessToken, file.RefreshToken, file.ExpiresAt), file.Version);
    }

    /// <inheritdoc />
    public async Task SaveAsync(string realm, StoredTokens tokens, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureDirectory();
            var path = PathFor(realm);
            var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            await using (var stream = new FileStream(temp, options))
            {
                var file = new TokenFile(tokens.Version, tokens.Tokens.AccessToken, tokens.Tokens.RefreshToken, tokens.Tokens.ExpiresAt);
                await JsonSerializer.SerializeAsync(stream, file, cancellationToken: cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            _lock.Release();
        }
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

    private sealed record TokenFile(long Version, string? AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt);
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
