import OctetCore
import OctetIR

/// Fixes every input's shape and folds what then becomes constant: Shape/Size of activations,
/// and the shape arithmetic exporters build on them (Gather, Unsqueeze, Concat, Cast, Div ...),
/// so that Reshape targets, Slice bounds and Resize sizes are initializers.
///
///     s = Shape(x); d = Gather(s, 0); t = Concat(d, [-1]); y = Reshape(x, t)   (x: [1,8,7,7])
///       ⇒   y = Reshape(x, [1, -1])
///
/// Also returns every value's shape. A plan is compiled per concrete input shape from this.
public enum SpecializeShapes {
    public static func apply(_ graph: Graph, inputShapes: [String: Shape]) throws(GraphError) -> (graph: Graph, shapes: [String: Shape]) {
        var g = graph
        for i in g.inputs.indices {
            if let s = inputShapes[g.inputs[i].name] {
                try g.inputs[i].check(s)
                g.inputs[i].dims = s.dims
            }
        }
        let folded = try ConstantFolding.fold(g, shapes: inputShapes)
        do { try folded.graph.verify() } catch { throw .afterPass(pass: "SpecializeShapes", underlying: error.description) }
        return folded
    }
}
