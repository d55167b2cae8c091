import OctetIR

/// A named, pure graph rewrite.
public struct Pass: Sendable {
    public let name: String
    public let rewrite: @Sendable (Graph) throws(GraphError) -> Graph

    public init(_ name: String, _ rewrite: @escaping @Sendable (Graph) throws(GraphError) -> Graph) {
        self.name = name
        self.rewrite = rewrite
    }
}

extension Array where Element == Pass {
    /// Runs the passes in order, verifying the graph after each and naming the pass that broke it.
    public func run(_ graph: Graph) throws(GraphError) -> Graph {
        var g = graph
        for pass in self {
            g = try pass.rewrite(g)
            do { try g.verify() } catch { throw .afterPass(pass: pass.name, underlying: error.description) }
        }
        return g
    }
}
