import OctetCore
import OctetIR

/// Evaluates nodes whose inputs are all initializers and replaces them by initializers.
///
///     s = Reshape(c1, c2) with c1, c2 constant   ⇒   s: initializer
///
/// The values come from `ConstantEvaluator`, the operators' reference semantics (the same
/// definitions the FP32 runtime runs). Float ops are computed in Float, one IEEE operation
/// per element, as the runtime does. Convolutions, dense layers and QDQ pairs are never folded.
public enum FoldConstants {
    public static let pass = Pass("FoldConstants") { (g: Graph) throws(GraphError) -> Graph in try apply(g) }

    public static func apply(_ graph: Graph) throws(GraphError) -> Graph {
        try ConstantFolding.fold(graph, shapes: nil).graph
    }
}

/// The folding loop shared by `FoldConstants` (constants only) and `SpecializeShapes` (which also
/// knows every value's shape, so Shape/Size of activations fold too).
enum ConstantFolding {
    /// Folds in node order. With `shapes` (input shapes), runs shape inference alongside and
    /// returns every value's shape.
    static func fold(_ graph: Graph, shapes inputShapes: [String: Shape]?) throws(GraphError) -> (graph: Graph, shapes: [String: Shape]) {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        var shapes: [String: Shape] = [:]
        for (name, t) in g.initializers { shapes[name] = t.shape }
        if let inputShapes {
            for input in g.inputs where g.initializers[input.name] == nil {
                guard let s = inputShapes[input.name] else { throw .missingInput(input.name) }
                try input.check(s)
                shapes[input.name] = s
            }
        }
        var kept: [Node] = []
        for node in g.nodes {
            let present = node.inputs.filter { !$0.isEmpty }
            let allConstant = present.allSatisfy { g.initializers[$0] != nil }
            let needsOnlyShapes: Bool = switch node.op { case .shape, .size: true; default: false }
            let knownShapes = present.allSatisfy { shapes[$0] != nil }
            guard knownShapes else {
                kept.append(node)  // Without input shapes (FoldConstants), later shapes are unknown.
                continue
            }
            let ins = node.inputs.map { $0.isEmpty ? Shape([]) : shapes[$0]! }
            let lookup: (Int) -> Tensor? = { i in i < node.inputs.count && !node.inputs[i].isEmpty ? g.initializers[node.inputs[i]] : nil }
            let outs: [Shape]
            if inputShapes != nil {
                outs = try g.outputShapes(of: node, inputs: ins, constant: lookup)
            } else if allConstant || needsOnlyShapes, let o = try? g.outputShapes(of: node, inputs: ins, constant: lookup) {
                outs = o
            } else {
                kept.append(node)
                continue
            }
            let foldable = (allConstant || needsOnlyShapes) && !node.outputs.contains(where: outputs.contains) && !present.isEmpty
            if foldable, let values = ConstantEvaluator.evaluate(node, inputs: node.inputs.indices.map(lookup),
                                                                  inputShapes: ins, outputShapes: outs),
               values.count == node.outputs.count {
                for (o, v) in zip(node.outputs, values) where !o.isEmpty { g.initializers[o] = v }
            } else {
                kept.append(node)
            }
            for (o, s) in zip(node.outputs, outs) where !o.isEmpty { shapes[o] = s }
        }
        g.nodes = kept
        g = EliminateDeadNodes.apply(g)
        return (g, shapes)
    }
}
