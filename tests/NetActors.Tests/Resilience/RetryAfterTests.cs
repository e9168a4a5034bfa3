using System.Net.Http.Headers;
using NetActors.Hosts;

namespace NetActors.Tests.Resilience;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Delay_seconds_form_is_read()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), RetryAfter.From(RetryConditionHeaderValue.Parse("2"), Now));
    }

    [Fact]
    public void Http_date_form_is_read_relative_to_now()
    {
        var header = RetryConditionHeaderValue.Parse("Sun, 22 Nov 2026 12:00:05 GMT");

        Assert.Equal(TimeSpan.FromSeconds(5), RetryAfter.From(header, Now));
    }

    [Fact]
    public void A_date_in_the_past_means_no_wait_and_a_missing_header_means_none()
    {
        Assert.Equal(TimeSpan.Zero, RetryAfter.From(RetryConditionHeaderValue.Parse("Sun, 22 Nov 2026 11:59:00 GMT"), Now));
        Assert.Null(RetryAfter.From(null, Now));
    }
}
