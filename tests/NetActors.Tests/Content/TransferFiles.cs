using System.Security.Cryptography;

namespace NetActors.Tests.Content;

/// <summary>Files with deterministic content in a directory of their own, deleted with it.</summary>
public sealed class TransferFiles : IDisposable
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "netactors-tests", Guid.NewGuid().ToString("N"));

    public TransferFiles()
    {
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>Writes <paramref name="megabytes"/> MiB of pseudo-random bytes (from <paramref name="seed"/>) to a new file.</summary>
    public string Create(string name, int megabytes, int seed)
    {
        var path = Path.Combine(Directory, name);
        var random = new Random(seed);
        var chunk = new byte[1024 * 1024];
        using var file = File.Create(path);
        for (var i = 0; i < megabytes; i++)
        {
            random.NextBytes(chunk);
            file.Write(chunk);
        }

        return path;
    }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort on a test's temporary directory.
        }
    }
}

/// <summary>An IProgress that runs its callback on the reporting thread (no queueing), so it sees every report in order.</summary>
public sealed class InlineProgress<T>(Action<T> onReport) : IProgress<T>
{
    public void Report(T value) => onReport(value);
}
