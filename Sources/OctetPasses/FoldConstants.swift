import OctetCore
import OctetIR

/// Evaluates nodes whose inputs are all initializers and replaces them by initializers.
///
///     s = Reshape(c1, c2) with c1, c2 constant   ⇒   s: initializer
///
/// Handles the shape and element-wise ops exporters leave on constants (Add, Mul, Relu, Clip,
/// Reshape, Flatten, Concat, Identity); other ops on constants are left for the runtime.
/// Float Add/Mul are computed in Double and rounded once, which equals Float arithmetic.
public enum FoldConstants {
    public static let pass = Pass("FoldConstants") { (g: Graph) throws(GraphError) -> Graph in try apply(g) }

    public static func apply(_ graph: Graph) throws(GraphError) -> Graph {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        var kept: [Node] = []
        for node in g.nodes {
            let ins = node.inputs.filter { !$0.isEmpty }
            guard node.outputs.count == 1, !outputs.contains(node.outputs[0]),
                  !ins.isEmpty, ins.allSatisfy({ g.initializers[$0] != nil }),
                  let value = evaluate(node, g.initializers) else {
                kept.append(node)
                continue
            }
            g.initializers[node.outputs[0]] = value
        }
        g.nodes = kept
        return EliminateDeadNodes.apply(g)
    }

    static func evaluate(_ node: Node, _ constants: [String: Tensor]) -> Tensor? {
        let ins = node.inputs.compactMap { constants[$0] }
        guard let x = ins.first else { return nil }
        switch node.op {
        case .identity, .dropout: return x
        case .reshape(let allowZero):
            guard ins.count == 2, let shape = Shape.reshaped(x.shape, to: ins[1].data.doubles.map { Int($0) }, allowZero: allowZero) else { return nil }
            var t = x; t.shape = shape; return t
        case .flatten(let axis):
            let a = axis < 0 ? axis + x.shape.rank : axis
            guard (0...x.shape.rank).contains(a) else { return nil }
            var t = x; t.shape = [x.shape.dims[..<a].reduce(1, *), x.shape.dims[a...].reduce(1, *)]; return t
        case .relu: return map(x) { max($0, 0) }
        case .clip(let lo, let hi): return map(x) { min(max($0, Double(lo)), Double(hi)) }
        case .add: return binary(ins, +)
        case .mul: return binary(ins, *)
        case .concat(let axis): return concat(ins, axis: axis)
        case .conv, .batchNormalization, .maxPool, .averagePool, .globalAveragePool, .gemm, .matMul, .softmax,
             .quantizeLinear, .dequantizeLinear:  // QDQ pairs are the INT8 model's structure: never folded
            return nil
        }
    }

    static func make(_ shape: Shape, _ values: [Double], like dtype: DType) -> Tensor? {
        let data: TensorData
        switch dtype {
        case .float32: data = .float32(values.map { Float($0) })
        case .int64: data = .int64(values.map { Int64($0) })
        case .int32: data = .int32(values.map { Int32($0) })
        case .int8, .uint8: return nil
        }
        return try? Tensor(shape: shape, data: data)
    }

    static func map(_ x: Tensor, _ f: (Double) -> Double) -> Tensor? {
        make(x.shape, x.data.doubles.map(f), like: x.dtype)
    }

    static func binary(_ ins: [Tensor], _ f: (Double, Double) -> Double) -> Tensor? {
        guard ins.count == 2, ins[0].dtype == ins[1].dtype,
              let shape = Shape.broadcast(ins[0].shape, ins[1].shape) else { return nil }
        let a = ins[0].data.doubles, b = ins[1].data.doubles
        let ia = BroadcastIndex(from: ins[0].shape, to: shape), ib = BroadcastIndex(from: ins[1].shape, to: shape)
        let values = (0..<shape.elementCount).map { f(a[ia.source($0)], b[ib.source($0)]) }
        return make(shape, values, like: ins[0].dtype)
    }

    static func concat(_ ins: [Tensor], axis: Int) -> Tensor? {
        let first = ins[0]
        let a = axis < 0 ? axis + first.shape.rank : axis
        guard (0..<first.shape.rank).contains(a), ins.allSatisfy({ $0.dtype == first.dtype && $0.shape.rank == first.shape.rank }) else { return nil }
        let outer = first.shape.dims[..<a].reduce(1, *)
        var out: [Double] = []
        var shape = first.shape
        shape[a] = ins.reduce(0) { $0 + $1.shape[a] }
        let parts = ins.map { ($0.data.doubles, $0.shape.dims[a...].reduce(1, *)) }
        for o in 0..<outer { for (d, inner) in parts { out += d[(o * inner)..<((o + 1) * inner)] } }
        return make(shape, out, like: first.dtype)
    }
}

/// Maps a flat index of a broadcast result to the flat index of one operand.
public struct BroadcastIndex: Sendable {
    let outStrides: [Int]
    let srcStrides: [Int]   // 0 on broadcast axes

    public init(from source: Shape, to result: Shape) {
        let pad = result.rank - source.rank
        let padded = Array(repeating: 1, count: pad) + source.dims
        let strides = Shape(padded).strides
        outStrides = result.strides
        srcStrides = (0..<result.rank).map { padded[$0] == 1 && result[$0] != 1 ? 0 : strides[$0] }
    }

    public func source(_ flat: Int) -> Int {
        var rest = flat, s = 0
        for i in outStrides.indices {
            let q = rest / outStrides[i]
            rest -= q * outStrides[i]
            s += q * srcStrides[i]
        }
        return s
    }
}
