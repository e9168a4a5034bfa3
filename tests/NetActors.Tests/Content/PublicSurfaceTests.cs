using System.Reflection;

namespace NetActors.Tests.Content;

public sealed class PublicSurfaceTests
{
    [Fact]
    public void A_request_exposes_only_public_types_and_the_content_types_live_in_their_folders_namespace()
    {
        var hidden = typeof(NetRequest).GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(p => !IsPublic(p.PropertyType))
            .Select(p => $"{p.Name}: {p.PropertyType}");

        Assert.Empty(hidden);
        Assert.All([typeof(NetContent), typeof(MultipartBuilder), typeof(TransferProgress), typeof(DownloadTarget), typeof(NetJson)],
            t => Assert.Equal("NetActors.Content", t.Namespace));
        // The types the request surface names sit beside it (src/NetActors/*.cs), so no namespace below uses the root.
        Assert.All([typeof(Paging), typeof(TokenSet), typeof(RedactionSettings)], t => Assert.Equal("NetActors", t.Namespace));
    }

    private static bool IsPublic(Type type) =>
        (Nullable.GetUnderlyingType(type) ?? type) is var t && (t.IsPublic || t.IsNestedPublic) &&
        t.GetGenericArguments().All(IsPublic);
}
