import OctetIR

/// Removes `Identity` and inference-mode `Dropout` nodes.
///
///     y = Identity(x); z = f(y)   ⇒   z = f(x)
///
/// When `y` is a graph output, the producer of `x` is renamed to write `y` instead
/// (if `x` is neither a graph input, an initializer nor itself a graph output); otherwise
/// the node stays.
public enum RemoveIdentities {
    public static let pass = Pass("RemoveIdentities") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        var index = 0
        while index < g.nodes.count {
            let node = g.nodes[index]
            let isPassThrough: Bool
            switch node.op {
            case .identity: isPassThrough = true
            case .dropout: isPassThrough = node.outputs.count == 1 || node.outputs[1].isEmpty
            case .conv, .batchNormalization, .relu, .clip, .maxPool, .averagePool, .globalAveragePool, .add, .mul,
                 .flatten, .reshape, .gemm, .matMul, .softmax, .concat, .quantizeLinear, .dequantizeLinear,
                 .unary, .binary, .where, .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .pad,
                 .shape, .size, .constantOfShape, .range, .cast, .resize, .convTranspose, .reduce, .globalMaxPool,
                 .logSoftmax, .layerNormalization, .instanceNormalization:
                isPassThrough = false
            }
            guard isPassThrough else { index += 1; continue }
            let x = node.inputs[0], y = node.outputs[0]
            let outputNames = Set(g.outputs.map(\.name))
            if !outputNames.contains(y) {
                g.nodes.remove(at: index)
                g.renameReads(of: y, to: x)
                continue
            }
            let sourceIsFixed = g.inputs.contains { $0.name == x } || g.initializers[x] != nil || outputNames.contains(x)
            if sourceIsFixed { index += 1; continue }
            g.nodes.remove(at: index)
            g.renameValue(x, to: y)
        }
        return g
    }
}

extension Graph {
    /// Makes every node that reads `old` read `new` instead.
    mutating func renameReads(of old: String, to new: String) {
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
        }
    }

    /// Renames a node-produced value everywhere.
    mutating func renameValue(_ old: String, to new: String) {
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
            nodes[i].outputs = nodes[i].outputs.map { $0 == old ? new : $0 }
        }
    }
}
