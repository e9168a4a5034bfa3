using NetActors.Errors;
using NetActors.Tests.Content;

namespace NetActors.Tests.Review;

/// <summary>Hostile review of DownloadWriteException: local disk failures of a download are typed and not retried.</summary>
public sealed class DownloadReviewTests
{
    /// <summary>
    /// The body was written, but the final move onto the target fails on the local disk (here the target path is an
    /// existing directory). That is a local write failure like any other: expected DownloadWriteException (a
    /// NetException); the caller gets a raw IOException from File.Move instead, outside the NetException hierarchy.
    /// </summary>
    [Fact]
    public async Task A_download_whose_final_move_fails_on_the_disk_is_a_DownloadWriteException()
    {
        using var files = new TransferFiles();
        var target = Directory.CreateDirectory(Path.Combine(files.Directory, "occupied")).FullName; // a directory where the file goes
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/files/small", 200, "{\"a\":1}");
        await using var net = await NetHost.StartAsync(upstream);

        var error = await Record.ExceptionAsync(() => net.Client.DownloadAsync(NetRequest.Get("api", "/files/small"), target)
            .WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.IsType<DownloadWriteException>(error);
        Assert.Equal(1, upstream.Count("/files/small"));
        Assert.Empty(Directory.GetFiles(files.Directory)); // no temporary file left behind
    }
}
