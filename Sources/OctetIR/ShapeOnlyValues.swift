/// Values a graph computes from constants and the *shapes* of its activations only (Shape, Size
/// and the arithmetic exporters build on them: Gather, Add, Concat ... of shapes). They become
/// constants once the input shapes are fixed (`SpecializeShapes`), so they are never activations
/// to observe or quantize.
///
///     s = Shape(x); d = Gather(s, 0); n = Add(d, 1)   ⇒   s, d, n are shape-only
extension Graph {
    public var shapeOnlyValues: Set<String> {
        var result = Set<String>()
        for node in nodes {
            let fromShape: Bool = switch node.op { case .shape, .size: true; default: false }
            let inputs = node.inputs.filter { !$0.isEmpty }
            let onlyConstant = !inputs.isEmpty && inputs.allSatisfy { initializers[$0] != nil || result.contains($0) }
            guard fromShape || (onlyConstant && inputs.contains(where: result.contains)) else { continue }
            for o in node.outputs where !o.isEmpty { result.insert(o) }
        }
        return result
    }
}
