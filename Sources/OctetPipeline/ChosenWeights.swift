import OctetCore
import OctetIR
import OctetPasses

/// The quantized weights of the convolutions whose scales (`outputMSEWeightScales`) or rounding
/// (`adaRoundedWeights`, dense layers too) a calibration chose, keyed as
/// `InsertQuantizeDequantize.apply` reads them (weight name and output-channel axis: 0, or 1 for
/// a Gemm's B stored [K, N]): what the QDQ pass then uses instead of its own. A convolution
/// with rounding but no chosen scales rounds at the default ranges. One rule for a calibration,
/// its bias correction and its rebuild from the table.
public func chosenWeights(_ graph: Graph, scales: [String: [Float]]?, roundedUp: [String: [Bool]]?,
                          options: QuantizeOptions) -> [String: InsertQuantizeDequantize.QuantizedWeight] {
    var out: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]
    for node in graph.nodes {
        if case .gemm(let a) = node.op, let up = roundedUp?[node.name], let w = OutputMajorWeights(node, graph),
           let s = convolutionScales(w.values, shape: w.shape, given: nil, options: options) {
            // A dense layer's rounding (AdaRound's flags, in B's stored order): codes and scales
            // computed output channels first as AdaRound rounded them, stored as B is.
            let codes = WeightQuantizer.codes(w.values, shape: w.shape, axis: 0, scales: s, qmax: options.weightMax,
                                              roundedUp: OutputMajorWeights.outputMajor(up, w))
            out["\(node.inputs[1])@\(a.transB ? 0 : 1)"] = .init(codes: w.storageOrder(codes), scales: s)
            continue
        }
        guard case .conv = node.op, node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], let wf = w.floats, w.shape.rank >= 1 else { continue }
        let given = scales?[node.name], up = roundedUp?[node.name]
        guard given != nil || up != nil else { continue }
        guard let s = convolutionScales(wf, shape: w.shape, given: given, options: options) else { continue }
        let codes = up.map { WeightQuantizer.codes(wf, shape: w.shape, axis: 0, scales: s, qmax: options.weightMax, roundedUp: $0) }
            ?? WeightQuantizer.codes(wf, shape: w.shape, axis: 0, scales: s, qmax: options.weightMax)
        out["\(node.inputs[1])@0"] = .init(codes: codes, scales: s)
    }
    return out
}

/// A convolution's weight scales in a calibration: the chosen ones (`given`, from
/// `outputMSEWeightScales` or a table) when they are positive, finite and one per output channel
/// or one in all, else nil; without them, `WeightQuantizer`'s default ranges. The one rule
/// AdaRound rounds at and `chosenWeights` quantizes with.
func convolutionScales(_ w: [Float], shape: Shape, given: [Float]?, options: QuantizeOptions) -> [Float]? {
    if let given {
        guard given.allSatisfy({ $0.isFinite && $0 > 0 }), shape.rank >= 1, given.count == 1 || given.count == shape[0] else { return nil }
        return given
    }
    return WeightQuantizer.quantize(w, shape: shape, axis: 0, perChannel: options.perChannelWeights, qmax: options.weightMax,
                                    clipping: options.weightClipping).scales
}
