using System.Reflection;
using System.Reflection.Emit;

namespace NetActors.Tests.Architecture;

/// <summary>
/// Which namespaces of an assembly use which: a type uses another when it names it in its base type, interfaces,
/// fields, properties, events, method and constructor signatures, local variables, custom attributes, or in the IL
/// of its methods (calls, field accesses, allocations, casts, <c>typeof</c>). Compiler-generated nested types
/// (closures, async state machines) count as their outermost declaring type.
/// </summary>
public sealed class NamespaceGraph
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance
        | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private readonly Assembly _assembly;
    private readonly string _root;

    /// <summary>namespace → namespace it uses → the type-level uses that show it ("A uses B").</summary>
    public SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> Edges { get; } = new(StringComparer.Ordinal);

    private NamespaceGraph(Assembly assembly, string root)
    {
        _assembly = assembly;
        _root = root;
    }

    /// <summary>The graph of the namespaces under <paramref name="root"/> (itself included) in <paramref name="assembly"/>.</summary>
    public static NamespaceGraph Of(Assembly assembly, string root)
    {
        var graph = new NamespaceGraph(assembly, root);
        foreach (var type in assembly.GetTypes())
            graph.AddUsesOf(type);
        return graph;
    }

    /// <summary>The namespace a type belongs to: its outermost declaring type's.</summary>
    public static string NamespaceOf(Type type)
    {
        while (type.DeclaringType is not null)
            type = type.DeclaringType;
        return type.Namespace ?? "";
    }

    private static string NameOf(Type type)
    {
        while (type.DeclaringType is not null && IsGenerated(type))
            type = type.DeclaringType;
        return type.FullName ?? type.Name;
    }

    private static bool IsGenerated(Type type) => type.Name.Contains('<');

    private bool IsOurs(string ns) => ns == _root || ns.StartsWith(_root + ".", StringComparison.Ordinal);

    private void AddUsesOf(Type type)
    {
        var from = NamespaceOf(type);
        if (!IsOurs(from))
            return;
        var fromName = NameOf(type);
        void Use(Type? used) => AddUse(from, fromName, used, 0);

        Use(type.BaseType);
        foreach (var i in type.GetInterfaces()) Use(i);
        foreach (var a in type.CustomAttributes) Use(a.AttributeType);
        foreach (var f in type.GetFields(Declared))
        {
            Use(f.FieldType);
            foreach (var a in f.CustomAttributes) Use(a.AttributeType);
        }
        foreach (var p in type.GetProperties(Declared)) Use(p.PropertyType);
        foreach (var e in type.GetEvents(Declared)) Use(e.EventHandlerType);
        foreach (var m in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (m is MethodInfo mi) Use(mi.ReturnType);
            foreach (var p in m.GetParameters()) Use(p.ParameterType);
            foreach (var a in m.CustomAttributes) Use(a.AttributeType);
            if (m.IsGenericMethodDefinition)
                foreach (var c in m.GetGenericArguments().SelectMany(g => g.GetGenericParameterConstraints())) Use(c);
            AddIlUses(from, fromName, type, m);
        }
    }

    private void AddIlUses(string from, string fromName, Type type, MethodBase method)
    {
        MethodBody? body;
        try { body = method.GetMethodBody(); }
        catch (Exception) { return; }
        if (body is null)
            return;
        foreach (var local in body.LocalVariables)
            AddUse(from, fromName, local.LocalType, 0);
        var il = body.GetILAsByteArray();
        if (il is null)
            return;
        var typeArgs = type.IsGenericType ? type.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            short value = il[at++];
            if (value == 0xFE)
                value = (short)(0xFE00 | il[at++]);
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, at);
                    foreach (var used in TypesOf(method.Module, token, typeArgs, methodArgs))
                        AddUse(from, fromName, used, 0);
                    at += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar: at += 1; break;
                case OperandType.InlineVar: at += 2; break;
                case OperandType.InlineI8:
                case OperandType.InlineR: at += 8; break;
                case OperandType.InlineSwitch: at += 4 + 4 * BitConverter.ToInt32(il, at); break;
                default: at += 4; break;
            }
        }
    }

    private static IEnumerable<Type> TypesOf(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        MemberInfo? member;
        try { member = module.ResolveMember(token, typeArgs, methodArgs); }
        catch (Exception) { yield break; }
        switch (member)
        {
            case Type t:
                yield return t;
                break;
            case FieldInfo f:
                yield return f.DeclaringType!;
                yield return f.FieldType;
                break;
            case MethodBase m:
                if (m.DeclaringType is not null) yield return m.DeclaringType;
                if (m is MethodInfo mi)
                {
                    yield return mi.ReturnType;
                    if (mi.IsGenericMethod)
                        foreach (var g in mi.GetGenericArguments()) yield return g;
                }
                foreach (var p in m.GetParameters()) yield return p.ParameterType;
                break;
        }
    }

    private void AddUse(string from, string fromName, Type? used, int depth)
    {
        if (used is null || depth > 8 || used.IsGenericParameter)
            return;
        if (used.HasElementType)
        {
            AddUse(from, fromName, used.GetElementType(), depth + 1);
            return;
        }
        if (used.IsGenericType && !used.IsGenericTypeDefinition)
        {
            foreach (var g in used.GetGenericArguments())
                AddUse(from, fromName, g, depth + 1);
            used = used.GetGenericTypeDefinition();
        }
        if (used.Assembly != _assembly)
            return;
        var to = NamespaceOf(used);
        if (to == from || !IsOurs(to))
            return;
        if (!Edges.TryGetValue(from, out var targets))
            Edges[from] = targets = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        if (!targets.TryGetValue(to, out var uses))
            targets[to] = uses = new SortedSet<string>(StringComparer.Ordinal);
        uses.Add($"{fromName} uses {NameOf(used)}");
    }

    /// <summary>The strongly connected groups of more than one namespace (each holds at least one cycle).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Knots()
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var knots = new List<IReadOnlyList<string>>();
        var next = 0;
        var nodes = Edges.Keys.Concat(Edges.Values.SelectMany(t => t.Keys)).Distinct().Order(StringComparer.Ordinal);

        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var to in Targets(node))
            {
                if (!index.ContainsKey(to))
                {
                    Visit(to);
                    low[node] = Math.Min(low[node], low[to]);
                }
                else if (onStack.Contains(to))
                    low[node] = Math.Min(low[node], index[to]);
            }
            if (low[node] != index[node])
                return;
            var group = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                group.Add(member);
            } while (member != node);
            if (group.Count > 1)
                knots.Add(group.Order(StringComparer.Ordinal).ToList());
        }

        foreach (var node in nodes)
            if (!index.ContainsKey(node))
                Visit(node);
        return knots;
    }

    /// <summary>A shortest cycle through <paramref name="start"/> within <paramref name="group"/>: start, ..., start.</summary>
    public IReadOnlyList<string> CycleThrough(string start, IReadOnlyCollection<string> group)
    {
        var cameFrom = new Dictionary<string, string>();
        var queue = new Queue<string>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var to in Targets(node).Where(group.Contains))
            {
                if (to == start)
                {
                    var path = new List<string> { start };
                    for (var at = node; at != start; at = cameFrom[at])
                        path.Add(at);
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (cameFrom.TryAdd(to, node))
                    queue.Enqueue(to);
            }
        }
        return [start];
    }

    /// <summary>The namespaces <paramref name="from"/> uses.</summary>
    public IEnumerable<string> Targets(string from) =>
        Edges.TryGetValue(from, out var targets) ? targets.Keys : [];

    /// <summary>The type-level uses behind the edge <paramref name="from"/> → <paramref name="to"/>.</summary>
    public IEnumerable<string> Uses(string from, string to) =>
        Edges.TryGetValue(from, out var targets) && targets.TryGetValue(to, out var uses) ? uses : [];
}
