namespace NetActors.Tests.Infrastructure;

/// <summary>A directory of its own for one test, removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("netactors-host-").FullName;
    }

    public string Path { get; }

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    /// <summary>
    /// Removes the directory. A store write the test did not await (a save a singleton started just before its actor
    /// system stopped) may still create its lock or temp file while the directory is removed, so a removal that finds
    /// the directory refilled is tried again; cleanup is best effort and never fails the test that used it.
    /// </summary>
    public void Dispose() => Remove(Path);

    /// <summary>Removes <paramref name="path"/> and what is in it, best effort, as <see cref="Dispose"/> does.</summary>
    public static void Remove(string path)
    {
        for (var attempt = 0; attempt < 50 && Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file appeared or vanished under the removal; the next attempt sees the directory as it is now.
            }
        }
    }
}
