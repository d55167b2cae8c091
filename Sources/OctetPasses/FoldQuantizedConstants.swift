import OctetCore
import OctetIR

/// Evaluates each QuantizeLinear of a float constant once, storing its codes as an initializer,
/// so that weights stored in float and quantized in the graph (NNCF's ONNX output:
/// `W → QuantizeLinear → DequantizeLinear → Conv`) reach the INT8 compiler as the int8 constants
/// it takes. Codes follow ONNX: saturate(round_half_even(x / scale) + zero_point). A node whose
/// parameters are not usable constants is left as it is (`QDQParameters` then names the cause).
///
///     wq = QuantizeLinear(W, s, z)   (W, s, z initializers)   ⇒   wq: initializer
public enum FoldQuantizedConstants {
    public static let pass = Pass("FoldQuantizedConstants") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        var kept: [Node] = []
        for node in graph.nodes {
            guard case .quantizeLinear(let axis) = node.op, let codes = fold(node, axis: axis, g) else {
                kept.append(node)
                continue
            }
            g.initializers[node.outputs[0]] = codes
        }
        g.nodes = kept
        return EliminateDeadNodes.apply(g)
    }

    static func fold(_ node: Node, axis: Int, _ g: Graph) -> Tensor? {
        guard node.inputs.count >= 2, node.outputs.count == 1, let x = g.initializers[node.inputs[0]], let values = x.floats,
              let scales = g.initializers[node.inputs[1]]?.floats, !scales.isEmpty,
              scales.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        let zero = node.inputs.count > 2 && !node.inputs[2].isEmpty ? g.initializers[node.inputs[2]] : nil
        if node.inputs.count > 2 && !node.inputs[2].isEmpty && zero == nil { return nil }
        let dtype = zero?.dtype ?? .uint8
        guard dtype == .uint8 || dtype == .int8 else { return nil }
        let zeros = zero?.data.doubles ?? [0]
        guard zeros.count == scales.count else { return nil }
        let s = x.shape
        var inner = 1, channels = 1
        if scales.count > 1 {
            let a = axis < 0 ? axis + s.rank : axis
            guard a >= 0, a < s.rank, s[a] == scales.count else { return nil }
            inner = s.dims[(a + 1)...].reduce(1, *)
            channels = s[a]
        }
        let (lo, hi): (Double, Double) = dtype == .int8 ? (-128, 127) : (0, 255)
        let q = values.indices.map { i -> Double in
            let c = scales.count == 1 ? 0 : (i / inner) % channels
            let v = (Double(values[i] / scales[c])).rounded(.toNearestOrEven) + zeros[c]
            return v.isNaN ? zeros[c] : min(max(v, lo), hi)
        }
        return dtype == .int8 ? try? Tensor(shape: s, data: .int8(q.map { Int8($0) })) : try? Tensor(shape: s, data: .uint8(q.map { UInt8($0) }))
    }
}
