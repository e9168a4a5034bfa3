namespace NetActors.Configuration;

/// <summary>
/// Thrown when the host starts with a NetActors setting that cannot work. The message names the HOCON key
/// (for example <c>netactors.clients.api.max-connections</c>) and the value that was rejected.
/// </summary>
public sealed class NetActorsConfigurationException : Exception
{
    /// <summary>Creates the exception for the setting at <paramref name="key"/>.</summary>
    /// <param name="key">The full HOCON path of the offending setting.</param>
    /// <param name="message">What is wrong with it and what would be accepted.</param>
    /// <param name="inner">The parsing error behind it, if any.</param>
    public NetActorsConfigurationException(string key, string message, Exception? inner = null)
        : base($"Invalid NetActors setting '{key}': {message}", inner)
    {
        Key = key;
    }

    /// <summary>The full HOCON path of the offending setting.</summary>
    public string Key { get; }
}
