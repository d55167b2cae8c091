import OctetIR

/// Drops nodes none of whose outputs reach a graph output, then initializers nothing reads.
///
///     a = f(x); b = g(x) (b unused); out = h(a)   ⇒   a = f(x); out = h(a)
public enum EliminateDeadNodes {
    public static let pass = Pass("EliminateDeadNodes") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        var live = Set(g.outputs.map(\.name))
        var keep = [Bool](repeating: false, count: g.nodes.count)
        for i in g.nodes.indices.reversed() where g.nodes[i].outputs.contains(where: live.contains) {
            keep[i] = true
            live.formUnion(g.nodes[i].inputs.filter { !$0.isEmpty })
        }
        g.nodes = zip(g.nodes, keep).filter(\.1).map(\.0)
        g.initializers = g.initializers.filter { live.contains($0.key) }
        return g
    }
}
