import OctetCore
import OctetIR

/// The checks every QuantizeLinear and DequantizeLinear of a QDQ model passes before the INT8
/// plan reads its parameters, so that a malformed file (another tool's, or an edited one) is
/// refused with the node and the cause before any work, never run into a trap or wrong numbers.
///
/// - scale: a constant float32, every value finite and positive;
/// - zero point: a constant (absent means 0) of the codes' type, one per scale;
/// - per-axis parameters: the axis inside the input's rank, one scale per index of that axis;
/// - activations (anything but a constant's DequantizeLinear): one scale, uint8 or int8 codes;
/// - weights of Conv, ConvTranspose, Gemm and MatMul: int8 codes that stay in int8 once their
///   zero point is subtracted (the integer kernels take zero-centred int8 weights).
enum QDQParameters {
    static func validate(_ graph: Graph, shapes: [String: Shape]) throws(RuntimeError) {
        let consumers = graph.consumers
        for node in graph.nodes {
            let axis: Int
            switch node.op {
            case .quantizeLinear(let a), .dequantizeLinear(let a): axis = a
            default: continue
            }
            func bad(_ detail: String) -> RuntimeError { .invalidQuantization(node: node.name, detail: detail) }
            guard node.inputs.count >= 2, let scale = graph.initializers[node.inputs[1]] else {
                throw bad("the scale is not a constant")
            }
            guard let scales = scale.floats else { throw bad("the scale is \(scale.dtype), not float32") }
            if let i = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw bad("scale \(scales[i])\(scales.count > 1 ? " at index \(i)" : "") (scales must be positive and finite)")
            }
            let codes = graph.initializers[node.inputs[0]]
            let zeroName = node.inputs.count > 2 ? node.inputs[2] : ""
            let zero = zeroName.isEmpty ? nil : graph.initializers[zeroName]
            if !zeroName.isEmpty && zero == nil { throw bad("the zero point is not a constant") }
            if let zero {
                guard zero.shape.elementCount == scales.count else {
                    throw bad("\(zero.shape.elementCount) zero point(s) for \(scales.count) scale(s)")
                }
                if let codes, case .dequantizeLinear = node.op, codes.dtype != zero.dtype {
                    throw bad("\(codes.dtype) codes with a \(zero.dtype) zero point")
                }
            }
            let inputShape = codes?.shape ?? shapes[node.inputs[0]]
            // One scale (a scalar or a 1-element vector) is per-tensor: ONNX ignores the axis then.
            if scales.count > 1 {
                guard let s = inputShape else { throw bad("per-axis parameters on a tensor of unknown shape") }
                let a = axis < 0 ? axis + s.rank : axis
                guard a >= 0 && a < s.rank else { throw bad("axis \(axis) is out of range for a rank-\(s.rank) input") }
                guard scales.count == s[a] else {
                    throw bad("\(scales.count) scales for axis \(axis) of size \(s[a]) (input \(s))")
                }
            }
            guard let codes else {
                // An activation: quantized per tensor to uint8 or int8 codes.
                guard scales.count == 1 else {
                    throw bad("\(scales.count) scales on an activation (activations are quantized per tensor)")
                }
                if let zero, zero.dtype != .uint8 && zero.dtype != .int8 {
                    throw bad("\(zero.dtype) activation codes (uint8 and int8 are supported)")
                }
                continue
            }
            guard case .dequantizeLinear = node.op else { throw bad("QuantizeLinear of a constant (store its codes and a DequantizeLinear)") }
            // The weights of a layer the integer kernels run.
            let isWeight = (consumers[node.outputs[0]] ?? []).contains { i in
                let c = graph.nodes[i]
                switch c.op {
                case .conv, .convTranspose, .gemm, .matMul: return c.inputs.count > 1 && c.inputs[1] == node.outputs[0]
                default: return false
                }
            }
            guard isWeight else { continue }
            guard codes.dtype == .int8 else { throw bad("\(codes.dtype) weights (the integer kernels take int8 weights)") }
            let zeros = zero?.data.doubles ?? [0]
            guard zeros.contains(where: { $0 != 0 }) else { continue }
            let values = codes.data.doubles
            let s = codes.shape
            let a = axis < 0 ? axis + s.rank : axis
            let inner = zeros.count > 1 && a < s.rank ? s.dims[(a + 1)...].reduce(1, *) : 1
            let channels = zeros.count > 1 && a < s.rank ? s[a] : 1
            for (i, q) in values.enumerated() {
                let centred = q - zeros[zeros.count == 1 ? 0 : (i / max(inner, 1)) % max(channels, 1)]
                guard centred >= -128 && centred <= 127 else {
                    throw bad("weight code \(Int(q)) minus zero point \(Int(q - centred)) leaves int8 (the integer kernels take zero-centred int8 weights)")
                }
            }
        }
    }
}
