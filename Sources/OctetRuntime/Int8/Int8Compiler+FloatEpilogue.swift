import OctetCore
import OctetIR
import OctetKernels

/// A float activation between an integer convolution and a QuantizeLinear, fused into the
/// convolution: NNCF leaves HardSwish and SiLU unquantized after their convolution.
///
///     Conv (float output) → HardSwish → Q          ⇒   conv + HardSwish (fp32) + quantize
///     Conv (float output) → x · Sigmoid(x) → Q     ⇒   conv + SiLU (fp32) + quantize
///
/// Each block of output rows is written as floats, run through the activation kernel and
/// quantized (per tensor, or per channel into a depthwise convolution) while still in cache,
/// instead of a float island that copies the tensor in and out and a quantize step over it. The
/// same kernels as the island and the quantize step, so the same codes.
extension Int8Compiler {
    /// Lowers island `indices` into the epilogue of the convolution that writes its one input, if
    /// the island is one activation with a C kernel whose output only a QuantizeLinear reads, and
    /// only the island reads that convolution's float output. Returns whether it did.
    mutating func lowerAsConvEpilogue(_ indices: [Int], inputs: [String], outputs: [String]) throws(RuntimeError) -> Bool {
        guard fuseIntoConvolutions, inputs.count == 1, outputs.count == 1,
              case .float(let x)? = values[inputs[0]], let xShape = shapes[inputs[0]], xShape.rank == 4,
              let kind = Self.activationKind(indices.map { graph.nodes[$0] }, input: inputs[0]) else { return false }
        let graphOutputs = Set(graph.outputs.map(\.name))
        let island = Set(indices)
        guard !graphOutputs.contains(inputs[0]), !graphOutputs.contains(outputs[0]),
              let xReaders = consumers[inputs[0]], xReaders.allSatisfy(island.contains),
              let readers = consumers[outputs[0]], readers.count == 1, case .quantizeLinear = graph.nodes[readers[0]].op,
              let j = steps.lastIndex(where: { $0.results.float.contains(x) }), case .conv(let c) = steps[j],
              c.epilogue == nil, c.table == nil, c.residual == nil, case .float(let slot, _, _, _) = c.output, slot == x,
              c.fast.map({ $0.geometry.outPixelStride == $0.geometry.outChannels }) ?? true else { return false }
        let q = graph.nodes[readers[0]]
        let spec = try channelOutputSpec(q, nil)
        guard spec.scales.count == 1 || spec.scales.count == c.outC else { return false }
        let name = q.outputs[0]
        let dst = spec.scales.count > 1 ? newU8PerChannel(name, spec.params, scales: spec.scales) : newU8(name, spec.params)
        c.epilogue = FloatEpilogue(activation: kind, scales: spec.scales, zeroPoint: spec.params.zeroPoint, dst: dst,
                                   label: Self.opList(indices.map { graph.nodes[$0] }))
        loweredAhead.insert(readers[0])
        return true
    }

    /// The activation kernel computing `nodes` on `input`: HardSwish, HardSigmoid, Sigmoid, or
    /// SiLU as `x · Sigmoid(x)`; nil for anything else.
    static func activationKind(_ nodes: [Node], input: String) -> ActivationKernel.Kind? {
        switch nodes.count {
        case 1:
            guard nodes[0].inputs.first == input else { return nil }
            switch nodes[0].op {
            case .unary(.hardSwish): return .hardSwish
            case .unary(.sigmoid): return .sigmoid
            case .unary(.hardSigmoid(let a, let b)): return .hardSigmoid(alpha: a, beta: b)
            default: return nil
            }
        case 2:
            guard case .unary(.sigmoid) = nodes[0].op, nodes[0].inputs.first == input, case .mul = nodes[1].op,
                  Set(nodes[1].inputs) == [input, nodes[0].outputs[0]] else { return nil }
            return .silu
        default:
            return nil
        }
    }
}
