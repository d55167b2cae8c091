import OctetCore

/// Builds graphs in code (model zoo, tests): each call appends a node with a fresh,
/// readable name and returns the name of its output value.
public struct GraphBuilder {
    public private(set) var graph: Graph
    private var counters: [String: Int] = [:]

    public init(name: String, opsetVersion: Int = 13) {
        graph = Graph(name: name, inputs: [], outputs: [], nodes: [], opsetVersion: opsetVersion)
    }

    /// A unique name with `prefix`.
    public mutating func fresh(_ prefix: String) -> String {
        let n = counters[prefix, default: 0]
        counters[prefix] = n + 1
        return n == 0 ? prefix : "\(prefix)_\(n)"
    }

    @discardableResult
    public mutating func input(_ name: String, dims: [Int?]) -> String {
        graph.inputs.append(ValueInfo(name: name, dims: dims))
        return name
    }

    public mutating func output(_ value: String, dims: [Int?]) {
        graph.outputs.append(ValueInfo(name: value, dims: dims))
    }

    @discardableResult
    public mutating func constant(_ name: String, _ tensor: Tensor) -> String {
        let n = fresh(name)
        graph.initializers[n] = tensor
        return n
    }

    /// Appends `op` reading `inputs`, with a node named `name` (made unique).
    @discardableResult
    public mutating func add(_ op: Op, _ inputs: [String], name: String? = nil, outputs: Int = 1,
                             outputNames: [String]? = nil) -> String {
        let nodeName = fresh(name ?? op.onnxType.lowercased())
        let outs = outputNames ?? (0..<outputs).map { $0 == 0 ? nodeName + "_out" : nodeName + "_out\($0)" }
        graph.nodes.append(Node(name: nodeName, op: op, inputs: inputs, outputs: outs))
        return outs[0]
    }
}
