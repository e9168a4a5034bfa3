using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using NetActors.Host.Workload;

namespace NetActors.Host.Options;

/// <summary>
/// Reads the host's options from configuration (appsettings.json, environment, command line, merged by .NET's
/// usual precedence) and validates them: every problem is collected, each naming its key, and reported at once
/// as a <see cref="HostConfigurationException"/>.
/// </summary>
internal sealed partial class HostOptionsReader
{
    private static readonly string[] Methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
    private readonly IConfiguration _config;
    private readonly List<string> _problems = [];

    private HostOptionsReader(IConfiguration config)
    {
        _config = config;
    }

    /// <summary>Reads and validates; throws <see cref="HostConfigurationException"/> listing every problem.</summary>
    /// <param name="config">The merged configuration.</param>
    /// <param name="defaultHocon">The HOCON file used when <c>Run:Hocon</c> is not set (null: none).</param>
    public static HostRunOptions Read(IConfiguration config, string? defaultHocon)
    {
        var reader = new HostOptionsReader(config);
        var options = reader.ReadAll(defaultHocon);
        if (reader._problems.Count > 0)
        {
            throw new HostConfigurationException(reader._problems);
        }

        return options;
    }

    private HostRunOptions ReadAll(string? defaultHocon)
    {
        var mode = (_config["Run:Mode"] ?? string.Empty).Trim().ToLowerInvariant() switch
        {
            "" => _config.GetSection("Workload:Endpoints").GetChildren().Any() ? HostMode.Workload : HostMode.Demo,
            "demo" => HostMode.Demo,
            "workload" => HostMode.Workload,
            var other => Problem<HostMode>("Run:Mode", $"'{other}' is not a mode; use demo or workload."),
        };

        var hocon = _config["Run:Hocon"] is { Length: > 0 } path ? Path.GetFullPath(path) : defaultHocon;
        if (_config["Run:Hocon"] is { Length: > 0 } && !File.Exists(hocon))
        {
            Problem<string>("Run:Hocon", $"the file '{hocon}' does not exist.");
        }

        var progress = Duration("Run:Progress", TimeSpan.FromSeconds(1), TimeSpan.Zero, TimeSpan.FromHours(1), offIsZero: true);
        var verbose = Bool("Run:Verbose", false);
        // Only the options of what runs are read (the shorthands --duration, --rate... apply to it).
        var demo = mode == HostMode.Demo ? ReadDemo() : new DemoOptions();
        var workload = mode == HostMode.Workload ? ReadWorkload() : null;
        return new HostRunOptions(mode, hocon, progress, verbose, demo, workload);
    }

    private DemoOptions ReadDemo()
    {
        var d = new DemoOptions();
        return d with
        {
            Duration = Duration(Shorthand("Duration", "Demo"), d.Duration, TimeSpan.FromSeconds(1), TimeSpan.FromHours(24)),
            Rate = Double(Shorthand("Rate", "Demo"), d.Rate, 1, 10_000),
            Concurrency = Int(Shorthand("Concurrency", "Demo"), d.Concurrency, 1, 10_000),
            Seed = Int(Shorthand("Seed", "Demo"), d.Seed, int.MinValue, int.MaxValue),
            BurstRequests = Int("Demo:BurstRequests", d.BurstRequests, 1, 100_000),
            TokenLifetime = Duration("Demo:TokenLifetime", d.TokenLifetime, TimeSpan.FromSeconds(2), TimeSpan.FromHours(1)),
            FaultRate = Double("Demo:FaultRate", d.FaultRate, 0, 0.5),
            SearchPerSecond = Int("Demo:SearchPerSecond", d.SearchPerSecond, 1, 10_000),
        };
    }

    private WorkloadOptions ReadWorkload()
    {
        var client = _config["Workload:Client"] is { Length: > 0 } c ? c : "api";
        Uri? baseAddress = null;
        if (_config["Workload:BaseAddress"] is { Length: > 0 } address)
        {
            if (Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                baseAddress = uri;
            }
            else
            {
                Problem<Uri>("Workload:BaseAddress", $"'{address}' is not an absolute http:// or https:// address.");
            }
        }

        var endpoints = new List<EndpointOptions>();
        var sections = _config.GetSection("Workload:Endpoints").GetChildren().ToList();
        if (sections.Count == 0)
        {
            Problem<object>("Workload:Endpoints", "no endpoints: describe at least one (Path, and optionally Method, Weight, Body, ContentType, Headers, IdempotencyKey, Name).");
        }

        foreach (var section in sections)
        {
            if (ReadEndpoint(section) is { } endpoint)
            {
                endpoints.Add(endpoint);
            }
        }

        SignInOptions? signIn = null;
        if (_config["Workload:SignIn:AccessToken"] is { Length: > 0 } access)
        {
            signIn = new SignInOptions(_config["Workload:SignIn:Realm"] is { Length: > 0 } realm ? realm : null, access,
                _config["Workload:SignIn:RefreshToken"] is { Length: > 0 } refresh ? refresh : null);
        }
        else if (_config["Workload:SignIn:RefreshToken"] is { Length: > 0 })
        {
            Problem<object>("Workload:SignIn:AccessToken", "is missing; a sign-in needs the access token (the refresh token alone is not enough).");
        }

        return new WorkloadOptions(client, baseAddress,
            Duration(Shorthand("Duration", "Workload"), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
            Double(Shorthand("Rate", "Workload"), 10, 0, 100_000),
            Int(Shorthand("Concurrency", "Workload"), 8, 1, 10_000),
            Int(Shorthand("Seed", "Workload"), 1, int.MinValue, int.MaxValue),
            endpoints, signIn);
    }

    private EndpointOptions? ReadEndpoint(IConfigurationSection section)
    {
        var key = section.Path;
        var before = _problems.Count;
        var path = section["Path"];
        if (string.IsNullOrWhiteSpace(path))
        {
            Problem<object>(key + ":Path", "is required (a URL relative to the client's base address, or absolute).");
        }
        else if (path.Any(char.IsControl) || path.Contains(' ', StringComparison.Ordinal))
        {
            Problem<object>(key + ":Path", "contains a space or a control character; escape it (%20).");
        }
        else if (RequestTemplate.Problem(path) is { } problem)
        {
            Problem<object>(key + ":Path", problem);
        }
        else if (path.Contains("://", StringComparison.Ordinal) &&
                 (!(path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) ||
                  !Uri.TryCreate(RequestTemplate.Expand(path, new Load.LoadOp(0, new Random(0))), UriKind.Absolute, out _)))
        {
            Problem<object>(key + ":Path", $"'{path}' is neither relative nor an absolute http:// or https:// URL.");
        }

        var methodText = (section["Method"] is { Length: > 0 } m ? m : "GET").Trim().ToUpperInvariant();
        if (!Methods.Contains(methodText))
        {
            Problem<object>(key + ":Method", $"'{methodText}' is not one of {string.Join(", ", Methods)}.");
        }

        var method = new HttpMethod(methodText);
        var body = section["Body"];
        if (body is not null && methodText is "GET" or "HEAD" or "DELETE" or "OPTIONS")
        {
            Problem<object>(key + ":Body", $"a {methodText} request has no body here; use POST, PUT or PATCH.");
        }
        else if (body is not null && RequestTemplate.Problem(body) is { } problem)
        {
            Problem<object>(key + ":Body", problem);
        }

        var contentType = section["ContentType"] is { Length: > 0 } ct ? ct : "application/json";
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType is null)
        {
            Problem<object>(key + ":ContentType", $"'{contentType}' is not a media type such as application/json or text/csv; charset=utf-8.");
        }
        else if (media.CharSet is { } charset && !charset.Trim('"').Replace("-", "").Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            Problem<object>(key + ":ContentType", $"the body is sent as UTF-8, but '{contentType}' names charset {charset}.");
        }

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var header in section.GetSection("Headers").GetChildren())
        {
            if (!HeaderName().IsMatch(header.Key))
            {
                Problem<object>(header.Path, $"'{header.Key}' is not a valid header name.");
            }
            else if (header.Value is null || header.Value.Any(ch => ch is '\r' or '\n' or '\0'))
            {
                Problem<object>(header.Path, "the value is missing or contains a line break.");
            }
            else
            {
                headers.Add(new(header.Key, header.Value));
            }
        }

        var weight = Int(key + ":Weight", 1, 1, 1_000_000);
        var idempotencyKey = Bool(key + ":IdempotencyKey", false);
        if (_problems.Count > before)
        {
            return null;
        }

        var name = section["Name"] is { Length: > 0 } n ? n : $"{methodText} {path}";
        return new EndpointOptions(name, method, path!, weight, body, contentType, headers, idempotencyKey);
    }

    [GeneratedRegex("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
    private static partial Regex HeaderName();

    /// <summary>The shorthand <c>Run:X</c> (set by <c>--x</c>) when present, else <c>Section:X</c>.</summary>
    private string Shorthand(string name, string section) => _config["Run:" + name] is not null ? "Run:" + name : section + ":" + name;

    private int Int(string key, int fallback, int min, int max)
    {
        var text = _config[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return Problem(key, $"'{text}' is not a whole number.", fallback);
        }

        return value < min || value > max ? Problem(key, $"{value} is out of range; it must be between {min} and {max}.", fallback) : value;
    }

    private double Double(string key, double fallback, double min, double max)
    {
        var text = _config[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            return Problem(key, $"'{text}' is not a number.", fallback);
        }

        return value < min || value > max ? Problem(key, $"{value} is out of range; it must be between {min} and {max}.", fallback) : value;
    }

    private bool Bool(string key, bool fallback)
    {
        var text = _config[key];
        return string.IsNullOrWhiteSpace(text)
            ? fallback
            : text.Trim().ToLowerInvariant() switch
            {
                "true" or "on" or "yes" or "1" => true,
                "false" or "off" or "no" or "0" => false,
                _ => Problem(key, $"'{text}' is not true or false.", fallback),
            };
    }

    private TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max, bool offIsZero = false)
    {
        var text = _config[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (offIsZero && text.Trim() is "off" or "false" or "no")
        {
            return TimeSpan.Zero;
        }

        if (ParseDuration(text.Trim()) is not { } value)
        {
            return Problem(key, $"'{text}' is not a duration (for example 500ms, 20s, 2m, 1h, 00:00:20; a bare number is seconds).", fallback);
        }

        return value < min || value > max
            ? Problem(key, $"{text} is out of range; it must be between {Show(min)} and {Show(max)}.", fallback)
            : value;
    }

    /// <summary>Parses 500ms, 20s, 1.5s, 2m, 1h, a bare number of seconds, or a .NET TimeSpan (00:00:20).</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        var units = new (string Suffix, double Seconds)[] { ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400) };
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(text.AsSpan(0, text.Length - suffix.Length).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) &&
                double.IsFinite(n) && n >= 0)
            {
                return TimeSpan.FromSeconds(n * seconds);
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare) && double.IsFinite(bare) && bare >= 0)
        {
            return TimeSpan.FromSeconds(bare);
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero ? span : null;
    }

    private static string Show(TimeSpan t) => t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0}ms" : $"{t.TotalSeconds:0.###}s";

    private T Problem<T>(string key, string message, T fallback = default!)
    {
        _problems.Add($"{key}: {message}");
        return fallback;
    }
}
