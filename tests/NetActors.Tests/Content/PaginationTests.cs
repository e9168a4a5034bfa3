using System.Text.Json;
using Microsoft.AspNetCore.Http;
using NetActors.Errors;

namespace NetActors.Tests.Content;

public sealed record Message(int Id, string Text);

public sealed class PaginationTests
{
    private static object Page(int from, int count, int total) =>
        Enumerable.Range(from, Math.Max(0, Math.Min(count, total - from))).Select(i => new Message(i, $"message {i}")).ToArray();

    /// <summary>/messages?cursor=N: items N.. in pages of 30, with the next cursor and a has-more flag.</summary>
    private static void MapCursorCollection(TestUpstream upstream, int total, Gate? holdSecondPage = null) =>
        upstream.Map("/messages", async ctx =>
        {
            var from = int.Parse(ctx.Request.Query["cursor"].FirstOrDefault() ?? "0");
            if (from > 0 && holdSecondPage is not null)
            {
                TestUpstream.StopCounting(ctx);
                await holdSecondPage.PassAsync(ctx);
            }

            var next = from + 30;
            await TestUpstream.Write(ctx, 200, JsonSerializer.Serialize(new
            {
                items = Page(from, 30, total),
                next = next < total ? next.ToString() : null,
                hasMore = next < total,
            }, JsonSerializerOptions.Web));
        });

    [Fact]
    public async Task Cursor_pagination_over_1000_items_in_pages_of_30_yields_each_once_in_order()
    {
        await using var upstream = await TestUpstream.StartAsync();
        MapCursorCollection(upstream, 1000);
        await using var net = await NetHost.StartAsync(upstream);

        var messages = new List<Message>();
        await foreach (var m in net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/messages"), Paging.Cursor()))
        {
            messages.Add(m);
        }

        Assert.Equal(Enumerable.Range(0, 1000), messages.Select(m => m.Id));
        Assert.Equal(34, upstream.Count("/messages"));
    }

    [Fact]
    public async Task Link_header_paging_follows_rel_next_until_there_is_none()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/events", async ctx =>
        {
            var page = int.Parse(ctx.Request.Query["page"].FirstOrDefault() ?? "1");
            if (page < 4)
            {
                ctx.Response.Headers.Link = $"</events?page={page + 1}>; rel=\"next\", </events?page=4>; rel=\"last\"";
            }

            await TestUpstream.Write(ctx, 200, JsonSerializer.Serialize(Page((page - 1) * 10, 10, 35), JsonSerializerOptions.Web));
        });
        await using var net = await NetHost.StartAsync(upstream);

        var ids = new List<int>();
        await foreach (var m in net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/events"), Paging.LinkHeader()))
        {
            ids.Add(m.Id);
        }

        Assert.Equal(Enumerable.Range(0, 35), ids);
        Assert.Equal(4, upstream.Count("/events"));
    }

    [Fact]
    public async Task Offset_and_page_number_paging_stop_at_a_short_page()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/rows", ctx => TestUpstream.Write(ctx, 200, JsonSerializer.Serialize(new
        {
            items = Page(int.Parse(ctx.Request.Query["offset"]!), int.Parse(ctx.Request.Query["limit"]!), 95),
        }, JsonSerializerOptions.Web)));
        upstream.Map("/pages", ctx => TestUpstream.Write(ctx, 200, JsonSerializer.Serialize(new
        {
            data = new { items = Page((int.Parse(ctx.Request.Query["page"]!) - 1) * 20, int.Parse(ctx.Request.Query["pageSize"]!), 40) },
        }, JsonSerializerOptions.Web)));
        await using var net = await NetHost.StartAsync(upstream);

        var rows = await net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/rows?sort=id"), Paging.Offset(25)).ToListAsync();
        var pages = await net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/pages"), Paging.PageNumber(20, itemsPath: "data.items")).ToListAsync();

        Assert.Equal(Enumerable.Range(0, 95), rows.Select(m => m.Id));
        Assert.Equal(4, upstream.Count("/rows"));
        Assert.All(upstream.Seen.Where(s => s.Path == "/rows"), s => Assert.Contains("sort=id", s.Query));
        Assert.Equal(Enumerable.Range(0, 40), pages.Select(m => m.Id));
        Assert.Equal(3, upstream.Count("/pages")); // 20, 20, then an empty page ends it
    }

    [Fact]
    public async Task Cancelling_between_pages_sends_no_further_request()
    {
        await using var upstream = await TestUpstream.StartAsync();
        MapCursorCollection(upstream, 1000);
        await using var net = await NetHost.StartAsync(upstream);
        using var cts = new CancellationTokenSource();
        var read = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/messages"), Paging.Cursor(), cts.Token))
            {
                if (++read == 45)
                {
                    cts.Cancel();
                }
            }
        });

        Assert.Equal(45, read);
        Assert.Equal(2, upstream.Count("/messages"));
    }

    [Fact]
    public async Task Cancelling_while_a_page_is_in_flight_aborts_it()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var gate = new Gate();
        MapCursorCollection(upstream, 1000, holdSecondPage: gate);
        await using var net = await NetHost.StartAsync(upstream);
        using var cts = new CancellationTokenSource();

        try
        {
            var reading = Task.Run(async () =>
            {
                await foreach (var _ in net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/messages"), Paging.Cursor(), cts.Token))
                {
                }
            });
            await gate.WaitForArrivalsAsync(1);
            cts.Cancel();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        }
        finally
        {
            gate.Open();
        }
    }

    [Fact]
    public async Task A_page_that_is_not_as_described_or_repeats_is_a_ResponseFormatException()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Respond("/loop", 200, "{\"items\":[{\"id\":1,\"text\":\"a\"}],\"next\":\"same\"}");
        upstream.Respond("/flat", 200, "{\"results\":[]}");
        upstream.Respond("/bad", 200, "{\"items\":[{\"id\":1,\"text\":\"a\"},{\"id\":\"x\",\"text\":\"b\"}]}");
        await using var net = await NetHost.StartAsync(upstream);

        var loop = await Assert.ThrowsAsync<ResponseFormatException>(() =>
            net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/loop?cursor=same"), Paging.Cursor()).ToListAsync().AsTask());
        var flat = await Assert.ThrowsAsync<ResponseFormatException>(() =>
            net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/flat"), Paging.Cursor()).ToListAsync().AsTask());
        var bad = await Assert.ThrowsAsync<ResponseFormatException>(() =>
            net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/bad"), Paging.Cursor()).ToListAsync().AsTask());

        Assert.Contains("repeats", loop.Message);
        Assert.Contains("$.items", flat.Message);
        Assert.Contains("$.items[1].id", bad.Message);
    }

    [Fact]
    public async Task Each_page_goes_through_the_pipeline_a_503_on_a_page_is_retried()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var failedOnce = 0;
        upstream.Map("/retried", async ctx =>
        {
            var page = int.Parse(ctx.Request.Query["page"].FirstOrDefault() ?? "1");
            if (page == 2 && Interlocked.Exchange(ref failedOnce, 1) == 0)
            {
                await TestUpstream.Write(ctx, 503, "{}");
                return;
            }

            await TestUpstream.Write(ctx, 200, JsonSerializer.Serialize(new { items = Page((page - 1) * 10, 10, 25) }, JsonSerializerOptions.Web));
        });
        await using var net = await NetHost.StartAsync(upstream, c => c.WithRetryDelays(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)));

        var items = await net.Client.PaginateAsync<Message>(NetRequest.Get("api", "/retried"), Paging.PageNumber(10)).ToListAsync();

        Assert.Equal(Enumerable.Range(0, 25), items.Select(m => m.Id));
        Assert.Equal(4, upstream.Count("/retried"));
    }

    [Theory]
    [InlineData("<https://api.example/items?page=2>; rel=\"next\"", "https://api.example/items?page=2")]
    [InlineData("</a>; rel=\"prev\", </b>; rel=\"next last\"", "/b")]
    [InlineData("</a>; rel=prev", null)]
    [InlineData("<https://api.github.example/repos?page=2>; rel=\"next\", <https://api.github.example/repos?page=9>; rel=\"last\"", "https://api.github.example/repos?page=2")]
    [InlineData("</x>; title=\"a, b; c\"; rel=\"next\"", "/x")]
    [InlineData("</p>; rel=\"prev\", </n>; rel=next; title=\"more\"", "/n")]
    public void Link_header_values_are_parsed_as_RFC_8288(string header, string? next)
    {
        Assert.Equal(next, Paging.NextLinkOf(header));
    }
}
