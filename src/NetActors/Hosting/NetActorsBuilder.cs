using System.Text;
using Microsoft.Extensions.Configuration;
using NetActors.Auth;

namespace NetActors.Hosting;

/// <summary>Configures the NetActors runtime from C#: its named clients and anything HOCON cannot hold.</summary>
public sealed class NetActorsBuilder
{
    private readonly Dictionary<string, ClientBuilder> _clients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AuthRealmBuilder> _realms = new(StringComparer.Ordinal);
    private readonly List<Func<string>> _hocon = [];

    /// <summary>Adds (or further configures) the named client <c>netactors.clients.&lt;name&gt;</c>.</summary>
    /// <param name="name">The client name used in requests.</param>
    /// <param name="configure">Sets the client's settings.</param>
    public NetActorsBuilder AddClient(string name, Action<ClientBuilder>? configure = null)
    {
        CheckName(name);
        if (!_clients.TryGetValue(name, out var client))
        {
            client = new ClientBuilder(name, this);
            _clients[name] = client;
        }

        configure?.Invoke(client);
        return this;
    }

    /// <summary>Adds (or further configures) the auth realm <c>netactors.auth.realms.&lt;name&gt;</c>.</summary>
    /// <param name="name">The realm name; clients join it with <see cref="ClientBuilder.WithAuthRealm"/>.</param>
    /// <param name="configure">Configures the realm.</param>
    public NetActorsBuilder AddAuthRealm(string name, Action<AuthRealmBuilder>? configure = null)
    {
        CheckName(name);
        if (!_realms.TryGetValue(name, out var realm))
        {
            realm = new AuthRealmBuilder(name);
            _realms[name] = realm;
        }

        configure?.Invoke(realm);
        return this;
    }

    internal IReadOnlyDictionary<string, Resilience.ClientHooks> ClientHooks =>
        _clients.ToDictionary(c => c.Key, c => c.Value.Hooks, StringComparer.Ordinal);

    internal IReadOnlyDictionary<string, RealmRegistration> RealmRegistrations =>
        _realms.ToDictionary(r => r.Key, r => r.Value.Registration, StringComparer.Ordinal);

    /// <summary>Adds HOCON text (for example the contents of <c>netactors.hocon</c>) above the defaults.</summary>
    /// <param name="hocon">HOCON text with a <c>netactors</c> section.</param>
    public NetActorsBuilder WithHocon(string hocon)
    {
        ArgumentNullException.ThrowIfNull(hocon);
        _hocon.Add(() => hocon);
        return this;
    }

    /// <summary>
    /// Adds the settings of a .NET configuration section (for example <c>configuration.GetSection("NetActors")</c>
    /// from appsettings.json, environment variables and the command line) above the defaults and any HOCON added
    /// before. The section holds the same keys as the HOCON <c>netactors</c> section, spelled as HOCON has them
    /// (<c>max-connections</c>), in PascalCase or with underscores; client and realm names keep their case; a later
    /// configuration source replaces a value of an earlier one. It is read when the runtime starts: an unknown key
    /// or a duration without a unit stops startup with a <see cref="Configuration.NetActorsConfigurationException"/>
    /// naming the key.
    /// </summary>
    /// <param name="section">The configuration section that holds the NetActors settings.</param>
    public NetActorsBuilder WithConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        _hocon.Add(() => Configuration.ConfigurationReader.ToHocon(section));
        return this;
    }

    internal string ToHocon()
    {
        var sb = new StringBuilder();
        foreach (var text in _hocon)
        {
            sb.AppendLine(text());
        }

        foreach (var client in _clients.Values)
        {
            sb.Append(client.ToHocon());
        }

        foreach (var realm in _realms.Values)
        {
            sb.Append(realm.ToHocon());
        }

        return sb.ToString();
    }

    /// <summary>
    /// A client or realm name is a HOCON key: one with a double quote, a backslash or a control character would not
    /// read back as the same key, and its settings would be lost without a word. Refused here, with the reason.
    /// </summary>
    private static void CheckName(string name, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(name))] string? parameter = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name, parameter);
        if (name.Any(c => c is '"' or '\\' || char.IsControl(c)))
        {
            throw new ArgumentException(
                $"The name '{name}' has a double quote, a backslash or a control character; a client or realm name cannot.",
                parameter);
        }
    }
}
