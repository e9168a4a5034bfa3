namespace NetActors.Configuration;

/// <summary>Origin keys: <c>scheme://host:port</c>, the unit of a connection budget.</summary>
public static class Origins
{
    /// <summary>The origin key of an absolute URL, for example <c>https://api.example.com:443</c>.</summary>
    /// <param name="uri">An absolute http or https URL.</param>
    public static string KeyOf(Uri uri) =>
        string.Concat(uri.Scheme, "://", uri.IdnHost, ":", uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
