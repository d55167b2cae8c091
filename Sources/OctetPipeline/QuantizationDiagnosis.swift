import Foundation
import OctetData
import OctetIR
import OctetPasses

/// Which half of quantization costs the accuracy: the model's output SQNR against FP32 with
/// everything quantized, with only the weights quantized (activations FP32) and with only the
/// activations quantized (weights and biases FP32), on the same samples. The question users ask
/// first when accuracy drops; the per-layer tables of the report then say where.
public struct QuantizationDiagnosis: Codable, Sendable, Equatable {
    public var samples: Int
    /// Output SQNR (dB) of the INT8 model, of weights-only INT8, of activations-only INT8.
    public var int8DB: Double, weightsOnlyDB: Double, activationsOnlyDB: Double

    /// One sentence on which half dominates (noise powers add: the lower SQNR is the larger part).
    public var verdict: String {
        let gap = abs(weightsOnlyDB - activationsOnlyDB)
        if gap < 1 { return "weights and activations cost about the same" }
        return weightsOnlyDB < activationsOnlyDB
            ? String(format: "the weights cost more (%.1f dB lower alone): the levers are per-channel weights, bias correction, --equalize and --max-drop", gap)
            : String(format: "the activations cost more (%.1f dB lower alone): the levers are --method, the over-clipping guard and --max-drop", gap)
    }
}

/// The QDQ model `qdq` with each weighted node's weight and bias inputs back to their FP32
/// initializers in `fp32` (matched by node name): only the activations stay quantized.
public func activationsOnlyModel(qdq: Graph, fp32: Graph) -> Graph {
    var g = qdq
    let original = Dictionary(fp32.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for i in g.nodes.indices {
        guard let o = original[g.nodes[i].name], o.op.onnxType == g.nodes[i].op.onnxType else { continue }
        for k in 1..<min(o.inputs.count, g.nodes[i].inputs.count) where !o.inputs[k].isEmpty {
            guard let t = fp32.initializers[o.inputs[k]], t.floats != nil, g.nodes[i].inputs[k] != o.inputs[k] else { continue }
            let name = o.inputs[k] + "_fp32"
            g.initializers[name] = t
            g.nodes[i].inputs[k] = name
        }
    }
    return EliminateDeadNodes.apply(g)
}

/// The QDQ model `qdq` with every activation's QuantizeLinear → DequantizeLinear pair removed
/// (readers take the float tensor itself): only the weights (and the corrected biases) stay
/// quantized.
public func weightsOnlyModel(qdq: Graph) -> Graph {
    var g = qdq
    let producer = Dictionary(g.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { first, _ in first })
    var replace: [String: String] = [:]
    for n in g.nodes {
        guard case .dequantizeLinear = n.op, let x = n.inputs.first, let out = n.outputs.first, let q = producer[x],
              case .quantizeLinear = q.op, let source = q.inputs.first, g.initializers[source] == nil else { continue }
        replace[out] = source
    }
    func resolve(_ name: String) -> String {
        var name = name
        // At most one step per pair (a malformed graph could chain them into a loop).
        for _ in 0...replace.count { guard let next = replace[name] else { break }; name = next }
        return name
    }
    for i in g.nodes.indices { g.nodes[i].inputs = g.nodes[i].inputs.map(resolve) }
    // A graph output that was a dequantized activation is the float tensor, under its name.
    for output in g.outputs where replace[output.name] != nil {
        g.nodes.append(Node(name: output.name + "_float", op: .identity, inputs: [resolve(output.name)], outputs: [output.name]))
    }
    return EliminateDeadNodes.apply(g)
}

/// Measures `QuantizationDiagnosis` on the first `samples` rows of `data`: every output of each
/// variant against the FP32 model's (the classifier's logits where there is one).
public func diagnoseQuantization(_ q: QuantizedModel, data: any Dataset, samples: Int, options: PlanOptions) throws -> QuantizationDiagnosis {
    try ReportMeasurements.measure(fp32: q.fp32, qdq: q.qdq, data: data, samples: samples, options: options).diagnosis
        ?? QuantizationDiagnosis(samples: 0, int8DB: 200, weightsOnlyDB: 200, activationsOnlyDB: 200)
}
