import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetPasses

/// Why a calibration table cannot be applied to a model.
public enum TableMismatch: Error, CustomStringConvertible, Equatable {
    case noProvenance
    case producer(String)
    case model(table: String, file: String)
    case preprocessing(table: String?, given: String?)
    /// A recorded weight scale that is not a positive finite number (an edited table).
    case weightScales(node: String)
    /// An activation's recorded parameters that quantize nothing (an edited table): `detail` says why.
    case activationParameters(tensor: String, detail: String)
    /// Recorded rounding directions that are not one flag per weight of a convolution of the model.
    case roundedUp(node: String)

    public var description: String {
        switch self {
        case .noProvenance:
            "the calibration table records no model or preprocessing (it was written before Octet recorded them): recalibrate"
        case .producer(let p):
            "the calibration table was written as '\(p)', this Octet reads '\(CalibrationProvenance.currentProducer)': recalibrate"
        case .model(let t, let f):
            "the calibration table was made for the model with SHA-256 \(t.prefix(12))…, this model file's is \(f.prefix(12))…: a table applies only to the model it was calibrated on"
        case .activationParameters(let tensor, let detail):
            "the calibration table's parameters for '\(tensor)' are invalid: \(detail): recalibrate"
        case .weightScales(let node):
            "the calibration table's weight scales for '\(node)' are not all positive finite numbers: recalibrate"
        case .roundedUp(let node):
            "the calibration table's AdaRound rounding for '\(node)' is not one flag per weight of a convolution of this model: recalibrate"
        case .preprocessing(let t, let g):
            "the calibration table was made with preprocessing \(t.map { "SHA-256 \($0.prefix(12))…" } ?? "none (tensors)"), the one given is \(g.map { "SHA-256 \($0.prefix(12))…" } ?? "none"): pass the recipe it was calibrated with"
        }
    }
}

/// Rebuilds the INT8 model of a calibration from its table alone (`octet quantize`): the table's
/// parameters, and from its provenance the exclusions, weight options and bias corrections. For
/// the model file and preprocessing the table was made with, the result is the calibration's
/// model byte for byte; a table made for anything else is refused (`TableMismatch`) before any work.
/// - Parameters:
///   - modelSHA256: of the model file `model` was loaded from.
///   - recipe: the preprocessing the model's images get (nil for tensors).
public func quantize(_ model: Graph, modelSHA256: String, recipe: PreprocessRecipe?, table: CalibrationTable) throws -> QuantizedModel {
    guard let p = table.provenance else { throw TableMismatch.noProvenance }
    guard p.producer == CalibrationProvenance.currentProducer else { throw TableMismatch.producer(p.producer) }
    guard p.modelSHA256 == modelSHA256 else { throw TableMismatch.model(table: p.modelSHA256, file: modelSHA256) }
    let given = try recipe.map(CalibrationArtifacts.preprocessingSHA256)
    guard p.preprocessingSHA256 == given else { throw TableMismatch.preprocessing(table: p.preprocessingSHA256, given: given) }
    if let qdq = model.nodes.first(where: { $0.op.isQDQ }) { throw CalibrationError.alreadyQuantized(qdq.name) }
    let optimized = try ModelLoader.optimize(model)
    let graph = GraphAdjustments(equalizedClips: p.equalizedClips, absorbedBiases: p.absorbedBiases).applied(to: optimized)
    let options = QuantizeOptions(perChannelWeights: p.perChannelWeights, weightBits: p.weightBits,
                                  excludedNodes: Set(p.excludedNodes), excludedOpTypes: Set(p.excludedOpTypes))
    if let bad = p.weightScales?.first(where: { !$0.value.allSatisfy(QuantParams.isValidScale) }) { throw TableMismatch.weightScales(node: bad.key) }
    for entry in table.entries {
        let params = entry.params
        if let problem = params.problem ?? (params.dtype == .uint8 || params.dtype == .int8 ? nil : "\(params.dtype) activation codes (uint8 or int8)") {
            throw TableMismatch.activationParameters(tensor: entry.tensor, detail: problem)
        }
    }
    var roundedUp: [String: [Bool]]? = nil
    if let recorded = p.roundedUp {
        var flags: [String: [Bool]] = [:]
        for (node, text) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let n = graph.nodes.first(where: { $0.name == node }), case .conv = n.op, n.inputs.count > 1,
                  let count = graph.initializers[n.inputs[1]]?.shape.elementCount,
                  let decoded = RoundingFlags.decode(text, count: count) else { throw TableMismatch.roundedUp(node: node) }
            flags[node] = decoded
        }
        roundedUp = flags
    }
    let weights = chosenWeights(graph, scales: p.weightScales, roundedUp: roundedUp, options: options)
    let qdq = try InsertQuantizeDequantize.apply(applyBiasCorrection(graph, p.biasCorrections), table: table, options: options, weights: weights)
    return QuantizedModel(fp32: graph, qdq: qdq, table: table, histograms: [:], samples: 0, seconds: 0,
                          quantize: options, biasCorrections: p.biasCorrections, equalizedClips: p.equalizedClips,
                          absorbedBiases: p.absorbedBiases, weightScales: p.weightScales, roundedUp: roundedUp)
}
