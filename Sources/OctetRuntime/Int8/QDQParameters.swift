import OctetCore
import OctetIR

/// The checks every QuantizeLinear and DequantizeLinear of a QDQ model passes before the INT8
/// plan reads its parameters, so that a malformed file (another tool's, or an edited one) is
/// refused with the node and the cause before any work, never run into a trap or wrong numbers.
///
/// - scale: a constant float32, every value finite and positive;
/// - zero point: a constant (absent means 0) of the codes' type, one per scale;
/// - per-axis parameters: the axis inside the input's rank, one scale per index of that axis;
/// - activations (anything but a constant's DequantizeLinear): uint8 or int8 codes, one scale, or
///   one per channel of an NCHW tensor that only depthwise convolutions read (NNCF's output);
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
            if let i = scales.firstIndex(where: { !QuantParams.isValidScale($0) }) {
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
                // An activation: uint8 or int8 codes, per tensor, or per channel into depthwise
                // convolutions only (`perChannelActivationProblem`).
                if let zero, zero.dtype != .uint8 && zero.dtype != .int8 {
                    throw bad("\(zero.dtype) activation codes (uint8 and int8 are supported)")
                }
                if scales.count > 1, let problem = perChannelActivationProblem(node, graph: graph, shapes: shapes, consumers: consumers) {
                    throw bad("\(scales.count) scales on an activation: \(problem)")
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

    /// Why a per-channel QuantizeLinear or DequantizeLinear of an activation (more than one scale)
    /// cannot run on the integer kernels, or nil when it can. NNCF quantizes the input of each
    /// depthwise convolution per channel: each output channel reads one input channel, so that
    /// channel's scale becomes part of its requantization multiplier, exactly. So: axis 1 of an
    /// NCHW tensor, one zero point for every channel (the kernels pad with one code), and the
    /// codes read only as the input of depthwise convolutions with quantized weights (through
    /// DequantizeLinear nodes with the same parameters, for a QuantizeLinear).
    static func perChannelActivationProblem(_ node: Node, graph: Graph, shapes: [String: Shape], consumers: [String: [Int]]) -> String? {
        guard let shape = shapes[node.inputs[0]], shape.rank == 4 else { return "only an NCHW tensor can be quantized per channel" }
        let axis: Int
        switch node.op {
        case .quantizeLinear(let a), .dequantizeLinear(let a): axis = a < 0 ? a + 4 : a
        default: return "not a QuantizeLinear or DequantizeLinear"
        }
        guard axis == 1 else { return "per-channel activations must be along axis 1, the channels" }
        let zeros = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]]?.data.doubles ?? [0] : [0]
        guard Set(zeros).count == 1 else { return "the zero points differ between channels (the kernels pad with one code)" }
        let readers = (consumers[node.outputs[0]] ?? []).map { graph.nodes[$0] }
        if case .quantizeLinear = node.op {
            guard !graph.outputs.contains(where: { $0.name == node.outputs[0] }) else { return "per-channel codes are a model output" }
            for r in readers {
                guard case .dequantizeLinear = r.op, r.inputs.count >= 2, graph.initializers[r.inputs[1]] == graph.initializers[node.inputs[1]],
                      (r.inputs.count > 2 ? r.inputs[2] : "") == (node.inputs.count > 2 ? node.inputs[2] : "")
                        || (r.inputs.count > 2 && node.inputs.count > 2 && graph.initializers[r.inputs[2]] == graph.initializers[node.inputs[2]]) else {
                    return "its codes are read by '\(r.name)', not by a DequantizeLinear with the same parameters"
                }
            }
            return nil
        }
        guard !graph.outputs.contains(where: { $0.name == node.outputs[0] }) else { return "a per-channel dequantized tensor is a model output" }
        for r in readers {
            let depthwise: Bool
            if case .conv(_, let group) = r.op, r.inputs[0] == node.outputs[0], r.inputs.count > 1,
               let w = dequantizedConstantShape(r.inputs[1], graph: graph) {
                depthwise = group == shape[1] && w.rank == 4 && w[1] == 1
            } else {
                depthwise = false
            }
            guard depthwise else {
                return "read by '\(r.name)' (\(r.op.onnxType)); Octet runs per-channel activation quantization only into depthwise convolutions with quantized weights"
            }
        }
        return nil
    }

    /// The shape of the constant codes behind a DequantizeLinear output `name`, or nil.
    static func dequantizedConstantShape(_ name: String, graph: Graph) -> Shape? {
        guard let p = graph.producers[name], case .dequantizeLinear = graph.nodes[p].op else { return nil }
        return graph.initializers[graph.nodes[p].inputs[0]]?.shape
    }
}
