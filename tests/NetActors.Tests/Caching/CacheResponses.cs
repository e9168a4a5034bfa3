using Microsoft.AspNetCore.Http;

namespace NetActors.Tests.Caching;

/// <summary>Answers a cache test's upstream request with a body and the caching headers given.</summary>
internal static class CacheResponses
{
    public static Task Answer(HttpContext ctx, string body, string cacheControl, string? etag = null,
        DateTimeOffset? lastModified = null, string? vary = null)
    {
        ctx.Response.Headers.CacheControl = cacheControl;
        if (etag is not null)
        {
            ctx.Response.Headers.ETag = etag;
        }

        if (lastModified is { } modified)
        {
            ctx.Response.Headers.LastModified = modified.ToString("R");
        }

        if (vary is not null)
        {
            ctx.Response.Headers.Vary = vary;
        }

        return TestUpstream.Write(ctx, 200, body);
    }
}
