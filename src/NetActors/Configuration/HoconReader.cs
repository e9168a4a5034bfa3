using Akka.Configuration;

namespace NetActors.Configuration;

/// <summary>
/// Reads typed values from a HOCON section and turns every problem into a
/// <see cref="NetActorsConfigurationException"/> that names the full key.
/// </summary>
internal readonly struct HoconReader(Config config, string prefix)
{
    public string String(string key)
    {
        try
        {
            return config.GetString(key, string.Empty) ?? string.Empty;
        }
        catch (Exception e) when (e is not NetActorsConfigurationException)
        {
            throw Invalid(key, "is not a string.", e);
        }
    }

    public bool Bool(string key)
    {
        try
        {
            return config.GetBoolean(key);
        }
        catch (Exception e)
        {
            throw Invalid(key, "is not on/off (true/false).", e);
        }
    }

    public int Int(string key, int min, int max)
    {
        int value;
        try
        {
            value = config.GetInt(key);
        }
        catch (Exception e)
        {
            throw Invalid(key, $"'{Raw(key)}' is not a whole number.", e);
        }

        if (value < min || value > max)
        {
            throw Invalid(key, $"{value} is out of range; it must be between {min} and {max}.");
        }

        return value;
    }

    public double Double(string key, double min, double max)
    {
        double value;
        try
        {
            value = config.GetDouble(key);
        }
        catch (Exception e)
        {
            throw Invalid(key, $"'{Raw(key)}' is not a number.", e);
        }

        if (double.IsNaN(value) || value < min || value > max)
        {
            throw Invalid(key, $"{value} is out of range; it must be between {min} and {max}.");
        }

        return value;
    }

    public TimeSpan Duration(string key, bool allowZero = false)
    {
        TimeSpan value;
        try
        {
            value = config.GetTimeSpan(key, null, allowInfinite: false);
        }
        catch (Exception e)
        {
            throw Invalid(key, $"'{Raw(key)}' is not a duration (for example 500ms, 10s, 2m).", e);
        }

        if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
        {
            throw Invalid(key, $"{value} must be {(allowZero ? "zero or more" : "greater than zero")}.");
        }

        return value;
    }

    public long ByteSize(string key, long min)
    {
        long? value;
        try
        {
            value = config.GetByteSize(key);
        }
        catch (Exception e)
        {
            throw Invalid(key, $"'{Raw(key)}' is not a size (for example 512KiB, 16MiB).", e);
        }

        if (value is null || value < min)
        {
            throw Invalid(key, $"must be a size of at least {min} bytes.");
        }

        return value.Value;
    }

    public IReadOnlyList<string> StringList(string key)
    {
        try
        {
            return config.HasPath(key) ? [.. config.GetStringList(key)] : [];
        }
        catch (Exception e)
        {
            throw Invalid(key, "is not a list of strings.", e);
        }
    }

    public NetActorsConfigurationException Invalid(string key, string message, Exception? inner = null) =>
        new(prefix + key, message, inner);

    private string Raw(string key)
    {
        try
        {
            return config.GetValue(key)?.ToString() ?? "(missing)";
        }
        catch
        {
            return "(unreadable)";
        }
    }
}
