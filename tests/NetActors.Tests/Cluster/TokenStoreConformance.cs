using NetActors.Auth;

namespace NetActors.Tests.Cluster;

/// <summary>
/// The fenced contract of <see cref="ITokenStore"/>, for any implementation: derive a class that creates the
/// store (and, for a store shared between processes, a second handle on the same data) and every test below runs
/// against it. A write is applied only when its fence supersedes what is stored, atomically against every other
/// writer; an ended session keeps its fence; readers never see a torn record.
/// </summary>
public abstract class TokenStoreConformance
{
    private const string Realm = "api";

    /// <summary>A new, empty store.</summary>
    protected abstract ITokenStore CreateStore();

    /// <summary>Another handle on the same data as <paramref name="store"/> (another process's view); the store itself if it has none.</summary>
    protected abstract ITokenStore SecondHandle(ITokenStore store);

    private static FencedTokens Session(long incarnation, long version, string access = "access") =>
        new(new StoredTokens(new TokenSet(access + "-" + incarnation + "-" + version, "refresh-" + version, null), version),
            new FenceToken(incarnation, version));

    private static FencedTokens Ended(long incarnation, long version) => new(null, new FenceToken(incarnation, version));

    [Fact]
    public async Task A_store_says_it_supports_fencing_and_holds_nothing_for_a_realm_nobody_wrote()
    {
        var store = CreateStore();
        Assert.True(store.SupportsFencing);
        Assert.Equal(FencedTokens.None, await store.LoadFencedAsync(Realm, default));
        Assert.Null(await store.LoadAsync(Realm, default));
    }

    [Fact]
    public async Task A_write_with_a_newer_fence_is_applied_and_read_back_whole()
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync(Realm, Session(1, 1), default));
        Assert.True(await store.TryWriteAsync(Realm, Session(1, 2), default));

        var stored = await store.LoadFencedAsync(Realm, default);
        Assert.Equal(new FenceToken(1, 2), stored.Fence);
        Assert.Equal(Session(1, 2).Tokens, stored.Tokens);
        Assert.Equal(Session(1, 2).Tokens, await SecondHandle(store).LoadAsync(Realm, default));
    }

    [Theory]
    [InlineData(1, 3)]   // an older version of the same incarnation
    [InlineData(2, 5)]   // the same fence again
    [InlineData(1, 99)]  // an older incarnation, whatever its version
    public async Task A_write_whose_fence_does_not_supersede_the_stored_one_changes_nothing(long incarnation, long version)
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync(Realm, Session(2, 5), default));

        Assert.False(await SecondHandle(store).TryWriteAsync(Realm, Session(incarnation, version, "stale"), default));
        Assert.False(await SecondHandle(store).TryWriteAsync(Realm, Ended(incarnation, version - 1), default));
        Assert.Equal(Session(2, 5), await store.LoadFencedAsync(Realm, default));
    }

    [Fact]
    public async Task An_ended_session_keeps_its_fence_so_a_stale_writer_cannot_bring_it_back()
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync(Realm, Session(3, 7), default));
        Assert.True(await store.TryWriteAsync(Realm, Ended(3, 7), default)); // ends the session at its own fence

        Assert.Null(await store.LoadAsync(Realm, default));
        Assert.Equal(Ended(3, 7), await store.LoadFencedAsync(Realm, default));
        Assert.False(await SecondHandle(store).TryWriteAsync(Realm, Session(2, 50, "stale"), default));
        Assert.False(await store.TryWriteAsync(Realm, Session(3, 7), default));
        Assert.True(await store.TryWriteAsync(Realm, Session(3, 8), default)); // the next sign-in of the same singleton
    }

    [Fact]
    public async Task A_newer_incarnation_supersedes_any_version_of_an_older_one()
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync(Realm, Session(1, 40), default));
        Assert.True(await SecondHandle(store).TryWriteAsync(Realm, Session(2, 40), default)); // a claim keeps the version
        Assert.False(await store.TryWriteAsync(Realm, Session(1, 41), default));
        Assert.Equal(new FenceToken(2, 40), (await store.LoadFencedAsync(Realm, default)).Fence);
    }

    [Fact]
    public async Task Of_concurrent_writers_claiming_the_same_fence_exactly_one_wins()
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync(Realm, Session(1, 1), default));
        var handles = new[] { store, SecondHandle(store) };

        for (var round = 2; round <= 6; round++)
        {
            var fence = round;
            var writes = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
                handles[i % 2].TryWriteAsync(Realm, Session(fence, 1, "writer" + i), default))).ToArray();
            var results = await Task.WhenAll(writes);

            Assert.Equal(1, results.Count(applied => applied));
            var winner = Array.IndexOf(results, true);
            Assert.Equal(Session(fence, 1, "writer" + winner), await store.LoadFencedAsync(Realm, default));
        }
    }

    [Fact]
    public async Task Realms_are_fenced_independently()
    {
        var store = CreateStore();
        Assert.True(await store.TryWriteAsync("a", Session(5, 5), default));
        Assert.True(await store.TryWriteAsync("b", Session(1, 1), default));
        Assert.Equal(new FenceToken(5, 5), (await store.LoadFencedAsync("a", default)).Fence);
        Assert.Equal(new FenceToken(1, 1), (await store.LoadFencedAsync("b", default)).Fence);
    }

    [Fact]
    public async Task The_unfenced_save_and_clear_of_one_process_still_work()
    {
        var store = CreateStore();
        var tokens = new StoredTokens(new TokenSet("a", "r", null), 4);
        await store.SaveAsync(Realm, tokens, default);
        Assert.Equal(tokens, await store.LoadAsync(Realm, default));
        await store.ClearAsync(Realm, default);
        Assert.Null(await store.LoadAsync(Realm, default));
    }
}

/// <summary>The in-memory store meets the fenced store contract.</summary>
public sealed class MemoryTokenStoreConformanceTests : TokenStoreConformance
{
    protected override ITokenStore CreateStore() => new MemoryTokenStore();

    protected override ITokenStore SecondHandle(ITokenStore store) => store;
}

/// <summary>
/// The file store meets the fenced store contract, also between two store instances on one directory (as two
/// processes on one machine see it), and keeps its files private to the owner.
/// </summary>
public sealed class FileTokenStoreConformanceTests : TokenStoreConformance, IDisposable
{
    private readonly TempDirectory _temp = new();

    private string StoreDirectory => _temp.Path;

    protected override ITokenStore CreateStore() => new FileTokenStore(StoreDirectory);

    protected override ITokenStore SecondHandle(ITokenStore store) => new FileTokenStore(StoreDirectory);

    [UnixFact]
    public async Task The_token_file_and_its_lock_file_are_readable_by_the_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // [UnixFact] reports the test as skipped there
        }

        var store = new FileTokenStore(StoreDirectory);
        Assert.True(await store.TryWriteAsync("api", new FencedTokens(new StoredTokens(new TokenSet("a"), 1), new FenceToken(1, 1)), default));

        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(owner, File.GetUnixFileMode(store.PathFor("api")));
        Assert.Equal(owner, File.GetUnixFileMode(store.PathFor("api") + ".lock"));
        Assert.Empty(Directory.GetFiles(StoreDirectory, "*.tmp"));
    }

    public void Dispose()
    {
        _temp.Dispose();
    }
}
