using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using NetActors.Configuration;
using NetActors.Errors;
using NetActors.Features;
using NetActors.Tests.Content;

namespace NetActors.Tests.Features;

public sealed record Banner(string Text, int Priority);

public sealed class FeatureFlagsTests
{
    private static Task<NetHost> StartAsync(TestUpstream upstream, string interval = "1h") =>
        NetHost.StartAsync(net => net
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithMaxAttempts(1))
            .WithHocon($"netactors.feature-flags {{ enabled = on, client = api, path = \"/flags\", flags-path = \"data\", refresh-interval = {interval} }}"));

    [Fact]
    public async Task Flags_are_fetched_at_start_read_typed_with_defaults_and_a_failed_fetch_keeps_the_last_good_set()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var answer = "{\"data\":{\"newCheckout\":true,\"maxItems\":25,\"banner\":{\"text\":\"Sale\",\"priority\":2}}}";
        var status = 200;
        upstream.Map("/flags", ctx => TestUpstream.Write(ctx, status, answer));
        await using var net = await StartAsync(upstream);
        var flags = net.Services.GetRequiredService<IFeatureFlags>();

        await Eventually.Assert(() => Assert.NotNull(flags.LastUpdated));
        Assert.True(flags.IsEnabled("newCheckout"));
        Assert.False(flags.IsEnabled("unknown"));
        Assert.True(flags.IsEnabled("unknown", defaultValue: true));
        Assert.Equal(25, flags.Get("maxItems", 10));
        Assert.Equal(10, flags.Get("missing", 10));
        Assert.Equal("fallback", flags.Get("maxItems", "fallback")); // a number is not a string
        Assert.Equal(new Banner("Sale", 2), flags.Get<Banner?>("banner", null));

        status = 500;
        await Assert.ThrowsAsync<ServerException>(() => flags.RefreshAsync());
        answer = "{\"unexpected\":[]}";
        status = 200;
        await Assert.ThrowsAsync<ResponseFormatException>(() => flags.RefreshAsync());

        Assert.True(flags.IsEnabled("newCheckout"));
        Assert.Equal(25, flags.Get("maxItems", 10));
    }

    [Fact]
    public async Task A_change_raises_the_event_once_and_an_unchanged_fetch_raises_nothing()
    {
        await using var upstream = await TestUpstream.StartAsync();
        var answer = "{\"data\":{\"a\":true,\"b\":1}}";
        upstream.Map("/flags", ctx => TestUpstream.Write(ctx, 200, answer));
        await using var net = await StartAsync(upstream);
        var flags = net.Services.GetRequiredService<IFeatureFlags>();
        await flags.RefreshAsync();
        var events = new ConcurrentQueue<FeatureFlagsChangedEventArgs>();
        flags.Changed += (_, e) => events.Enqueue(e);

        await flags.RefreshAsync(); // same flags
        answer = "{\"data\":{\"a\":false,\"b\":1,\"c\":\"new\"}}";
        await flags.RefreshAsync();
        await flags.RefreshAsync(); // same again

        await Eventually.Assert(() => Assert.Single(events));
        Assert.Equal(["a", "c"], events.Single().ChangedFlags);
        Assert.False(flags.IsEnabled("a", defaultValue: true));
    }

    [Fact]
    public async Task A_repeated_flag_name_takes_the_last_value_and_a_source_generated_client_context_is_no_obstacle()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/flags", ctx => TestUpstream.Write(ctx, 200, "{\"data\":{\"a\":false,\"a\":true}}"));
        await using var net = await NetHost.StartAsync(n => n
            .AddClient("api", c => c.WithBaseAddress(upstream.BaseAddress).WithJson(OrderJsonContext.Default))
            .WithHocon("netactors.feature-flags { enabled = on, client = api, flags-path = data, refresh-interval = 1h }"));
        var flags = net.Services.GetRequiredService<IFeatureFlags>();

        await flags.RefreshAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(flags.IsEnabled("a"));
    }

    [Fact]
    public async Task Flags_are_fetched_again_on_the_interval()
    {
        await using var upstream = await TestUpstream.StartAsync();
        upstream.Map("/flags", ctx => TestUpstream.Write(ctx, 200, "{\"data\":{}}"));
        await using var net = await StartAsync(upstream, interval: "100ms");

        await Eventually.Assert(() => Assert.True(upstream.Count("/flags") >= 3, $"{upstream.Count("/flags")} fetches"));
    }

    [Fact]
    public async Task Enabled_flags_need_a_configured_client()
    {
        using var host = NetHost.Build(net => net.WithHocon("netactors.feature-flags { enabled = on, client = nope }"));

        var error = await Assert.ThrowsAsync<NetActorsConfigurationException>(() => host.StartAsync());

        Assert.Equal("netactors.feature-flags.client", error.Key);
    }
}
