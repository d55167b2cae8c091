import OctetCore

/// A model as a value: a topologically ordered node list over named values, plus the
/// constant initializers. Passes are pure functions from one `Graph` to another.
public struct Graph: Hashable, Sendable {
    public var name: String
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var initializers: [String: Tensor]
    public var nodes: [Node]
    /// Default-domain opset the graph was imported with (or is exported as).
    public var opsetVersion: Int

    public init(name: String = "graph", inputs: [ValueInfo], outputs: [ValueInfo],
                initializers: [String: Tensor] = [:], nodes: [Node], opsetVersion: Int = 13) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.nodes = nodes
        self.opsetVersion = opsetVersion
    }

    /// Index of the node producing each value.
    public var producers: [String: Int] {
        var map: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { for o in node.outputs where !o.isEmpty { map[o] = i } }
        return map
    }

    /// For each value, the indices of the nodes that read it.
    public var consumers: [String: [Int]] {
        var map: [String: [Int]] = [:]
        for (i, node) in nodes.enumerated() { for v in node.inputs where !v.isEmpty { map[v, default: []].append(i) } }
        return map
    }

    /// Total number of parameters (elements of all initializers).
    public var parameterCount: Int { initializers.values.reduce(0) { $0 + $1.shape.elementCount } }

    /// Histogram of op types, for `octet inspect`.
    public var opCounts: [String: Int] {
        nodes.reduce(into: [:]) { $0[$1.op.onnxType, default: 0] += 1 }
    }
}
