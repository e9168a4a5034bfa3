using System.Net;
using NetActors.Errors;
using NetActors.Resilience;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace NetActors.Hosts;

/// <summary>
/// HostActor: the adaptive concurrency limit and the adaptive rate. Every attempt that ends is a sample for them;
/// the decisions are made by <see cref="AdaptiveLimit"/> and <see cref="AdaptiveRate"/> (plain classes in the
/// ledger), and take effect where the actor dispatches: the pump starts an attempt only while fewer than
/// <see cref="AdmissionLedger.SlotLimit"/> are on the wire, so the next pump after a change applies it.
/// </summary>
internal sealed partial class HostActor
{
    /// <summary>Shows the adaptive limit and rate as they start (after a restart: as they were).</summary>
    private void ShowAdaptive()
    {
        if (_ledger.Limit is { } limit)
        {
            _gauge.SetLimit(limit.Current);
        }

        if (_ledger.Rate is { } rate)
        {
            _gauge.SetRate(rate.Rate);
        }
    }

    /// <summary>
    /// One attempt ended: a sample of its latency and of whether the server pushed back. Its caller's cancellation,
    /// the caller's own body and hooks say nothing about the server and are not samples.
    /// </summary>
    private void SampleAttempt(Exchange ex, AttemptCompleted done)
    {
        if (_ledger.Limit is null && _ledger.Rate is null)
        {
            return;
        }

        var status = done.Error is null && done.Response is { } response ? (int)response.StatusCode : 0;
        bool dropped;
        if (done.Error is not null)
        {
            var failure = FailureClassifier.Classify(ex, done.Error);
            if (failure is OperationCanceledException || FailureClassifier.SaysNothingOfOrigin(ex, failure))
            {
                return;
            }

            // A timeout or a reset is the server (or the path to it) failing under load: a drop.
            dropped = FailureClassifier.CountsAgainstOrigin(ex, failure);
        }
        else
        {
            dropped = status is 503 or 429;
        }

        if (_ledger.Limit is { } limit &&
            limit.Record(_context.Time.GetElapsedTime(ex.AttemptStartedAt), ex.InFlightAtStart, dropped))
        {
            _gauge.SetLimit(limit.Current);
            if (limit.TakeReportable(out var previous))
            {
                ReportLimit(previous, limit);
            }
        }

        if (_ledger.Rate is { } rate && done.Error is null)
        {
            var signal = status == 429 || (status == 503 && done.Response!.Headers.RetryAfter is not null);
            if ((signal || status is >= 200 and <= 399) && rate.Record(signal))
            {
                _gauge.SetRate(rate.Rate);
                if (rate.TakeReportable(out var before))
                {
                    ReportRate(before, rate);
                }
            }
        }
    }

    private void ReportLimit(int previous, AdaptiveLimit limit)
    {
        if (_context.Log.IsEnabled(LogLevel.Information))
        {
            _context.Log.LimitChanged(_origin, previous, limit.Current, limit.Name, _ledger.MaxConnections);
        }

        Context.System.EventStream.Publish(new AdaptiveLimitChanged(_origin, previous, limit.Current, limit.Name));
    }

    private void ReportRate(double previous, AdaptiveRate rate)
    {
        if (_context.Log.IsEnabled(LogLevel.Information))
        {
            _context.Log.RateChanged(_origin, previous, rate.Rate, rate.Min, rate.Max);
        }

        Context.System.EventStream.Publish(new AdaptiveRateChanged(_origin, previous, rate.Rate));
    }
}
