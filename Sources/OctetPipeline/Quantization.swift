import Dispatch
import Foundation
import OctetCalibration
import OctetCore
import OctetData
import OctetIR
import OctetKernels
import OctetPasses
import OctetRuntime

/// A calibrated INT8 model: the FP32 graph it came from, the thresholds, and the QDQ graph.
public struct QuantizedModel: Sendable {
    public var fp32: Graph
    public var qdq: Graph
    public var table: CalibrationTable
    public var histograms: [String: AbsHistogram]
    /// Samples the statistics came from.
    public var samples: Int
    public var seconds: Double
    /// Output-space weight sensitivity per convolution (dB), when analysed.
    public var sensitivity: [String: Double] = [:]
    /// Layers kept in FP32 because they are too sensitive to weight quantization.
    public var autoExcluded: [String] = []
    /// Layers as sensitive, quantized because keeping them too would exceed the budget.
    public var sensitiveOverBudget: [String] = []
    /// What `--max-drop` did, when it was asked for.
    public var accuracy: AccuracyControlReport? = nil
    /// The quantize options the QDQ graph was made with (every exclusion included).
    public var quantize = QuantizeOptions()
    /// The bias corrections applied, per convolution.
    public var biasCorrections: [String: [Float]] = [:]
    /// Cross-layer equalization: nil when off, else the ReLU6 nodes it turned into Relu.
    public var equalizedClips: [String]? = nil
    /// High-bias absorption: nil when off, else the amount moved out of each convolution's bias.
    public var absorbedBiases: [String: [Float]]? = nil
    /// Weight ranges chosen on the layers' outputs: nil with the default, else per convolution its scales.
    public var weightScales: [String: [Float]]? = nil
    /// AdaRound: nil with nearest rounding, else per convolution each weight's rounding direction
    /// (`adaRoundedWeights`).
    public var roundedUp: [String: [Bool]]? = nil
}

/// Which convolutions the weight-sensitivity rule keeps in FP32 (`sensitiveLayers`).
public struct SensitivityExclusion: Sendable, Equatable {
    /// Stay FP32, worst first.
    public var kept: [String] = []
    /// Sensitive by the margin but quantized: keeping them too would spend more than the budget.
    public var overBudget: [String] = []

    public init(kept: [String] = [], overBudget: [String] = []) {
        self.kept = kept
        self.overBudget = overBudget
    }
}

/// The layers to keep in FP32: sensitivity more than `margin` dB below the median, worst first,
/// at most a tenth of the layers, and (with a `budget`) at most that fraction of the analysed
/// convolutions' multiply-adds (`multiplyAdds`, per layer) in all. An FP32 layer runs at a
/// quarter of INT8 speed or less, so one large layer can cost more than the rest of the model
/// (SqueezeNet's classifier: a quarter of its multiply-adds); a layer that does not fit is left
/// quantized and the next one tried. Layers in `excluded` (the user's) are never chosen and
/// spend nothing.
public func sensitiveLayers(_ sensitivity: [String: Double], margin: Double, multiplyAdds: [String: Int] = [:],
                            budget: Double? = nil, excluded: Set<String> = []) -> SensitivityExclusion {
    let sorted = sensitivity.filter { $0.value.isFinite }.sorted { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }
    guard !sorted.isEmpty else { return SensitivityExclusion() }
    let median = sorted[sorted.count / 2].value
    let candidates = sorted.prefix(max(sorted.count / 10, 0)).filter { $0.value < median - margin && !excluded.contains($0.key) }.map(\.key)
    guard let budget else { return SensitivityExclusion(kept: candidates) }
    let total = multiplyAdds.values.reduce(0.0) { $0 + Double(max($1, 0)) }
    var result = SensitivityExclusion(), spent = 0.0
    for layer in candidates {
        let cost = Double(max(multiplyAdds[layer] ?? 0, 0))
        if total > 0, spent + cost <= budget * total {
            spent += cost
            result.kept.append(layer)
        } else {
            result.overBudget.append(layer)
        }
    }
    return result
}

/// Errors of calibration.
public enum CalibrationError: Error, CustomStringConvertible {
    case alreadyQuantized(String)
    case neverObserved([String])
    case emptyDataset

    public var description: String {
        switch self {
        case .alreadyQuantized(let node): "the model is already quantized (node '\(node)' is a QuantizeLinear/DequantizeLinear); calibrate its FP32 original"
        case .neverObserved(let names): "tensor(s) never observed during calibration: \(names.joined(separator: ", "))"
        case .emptyDataset: "the calibration dataset is empty"
        }
    }
}

/// Collects histograms of the `watched` tensors of the FP32 model over rows `range` of the data.
/// The result depends only on the graph, the samples and the FP32 kernel path (`options.isa`),
/// never on threads, batch size or how the rows are split: one shard of a distributed calibration.
public func collectHistograms(_ graph: Graph, data: any Dataset, range: Range<Int>, watched: Set<String>,
                              options: PlanOptions, batch: Int, progress: ProgressHandler? = nil) throws -> [String: AbsHistogram] {
    var options = options
    options.fuse = false
    let run = try ModelRun(graph: graph, options: options)
    let collector = HistogramCollector(workers: options.threads, watched: watched, isa: options.isa)
    var start = range.lowerBound
    while start < range.upperBound {
        let r = start..<min(start + max(batch, 1), range.upperBound)
        for (_, inputs) in try run.inputBatches(data, r) { _ = try run.run(inputs, observer: collector) }
        start = r.upperBound
        progress?(start - range.lowerBound, range.count)
    }
    return collector.histograms()
}

/// Chooses every quantization point's threshold from its histogram (a pure function of the
/// histograms: the same histograms always give the same table).
/// `known`: entries of a table made from the same histograms and threshold settings, reused for
/// the tensors it calibrated (the accuracy-driven search changes only the exclusions).
public func calibrationTable(_ graph: Graph, histograms: [String: AbsHistogram], config: QuantConfig,
                             known: CalibrationTable? = nil) throws -> CalibrationTable {
    let all = InsertQuantizeDequantize.quantizationPoints(graph, options: config.quantize)
    let points = all.activations
    let missing = points.filter { histograms[$0] == nil }
    guard missing.isEmpty else { throw CalibrationError.neverObserved(missing) }
    // The least value each tensor takes, or below which its readers do not look (a HardSwish's
    // input below −3): the low end of its grid (`QuantParams.activation`).
    let proven = LowerBounds.analyze(graph)
    let bounds = proven.merging(LowerBounds.readerFloors(graph)) { max($0, $1) }
    // Above which its readers do not look (a HardSigmoid's input above 3): the threshold's cap.
    let ceilings = LowerBounds.readerCeilings(graph)
    /// One tensor's entry from its histogram alone, so the tensors are searched on `config.plan.threads`
    /// threads in any order with the same result.
    @Sendable func search(_ t: String) -> CalibrationTable.Entry {
        let h = histograms[t]!
        let bound = bounds[t]
        let nonNegative = bound.map { $0 >= 0 } ?? false
        // A tensor with a lower bound spends its 255 steps on [−B, T] with B small against T (a
        // HardSwish's 0.375): its threshold is searched as a non-negative tensor's, whose
        // histogram of |x| holds the few small negative values in its lowest bins.
        let unsigned = bound != nil
        var threshold = ThresholdSearch.threshold(h, method: config.method, nonNegative: unsigned)
        var method = config.method.description
        var sqnr = ThresholdSearch.estimatedSQNR(h, threshold: threshold, nonNegative: unsigned)
        if config.method == .kl {
            let alt = ThresholdSearch.threshold(h, method: .mse, nonNegative: unsigned)
            let altSQNR = ThresholdSearch.estimatedSQNR(h, threshold: alt, nonNegative: unsigned)
            if altSQNR - sqnr > config.overClipMarginDB {
                method = String(format: "mse (kl over-clipped: %.1f dB vs %.1f dB)", sqnr, altSQNR)
                threshold = alt
                sqnr = altSQNR
            }
        }
        if let c = ceilings[t], let low = bound, low >= -c, c > max(low, 0), threshold > c {
            // Codes above the ceiling would all mean the readers' same result. Only where the
            // grid's low end is within −c: a threshold caps both sides, and below the floor (or
            // the bound) nothing is lost, where without one a Clip(−∞, 1) would still read −5
            // (LowerBoundsTests: a convolution read by two such Clips).
            method += String(format: ", capped at %g (its readers' ceiling)", c)
            threshold = c
            sqnr = ThresholdSearch.estimatedSQNR(h, threshold: threshold, nonNegative: unsigned)
        }
        return .init(tensor: t, method: method, threshold: threshold,
                     params: QuantParams.activation(threshold: threshold, lowerBound: bound, symmetric: config.symmetricActivations),
                     observedMax: h.maxAbs, nonNegative: nonNegative, binned: h.binned, zeros: h.zeros,
                     nonFinite: h.nonFinite, estimatedSQNR: sqnr, lowerBound: bound.flatMap { $0 < 0 ? $0 : nil })
    }
    let reused = points.map { t in known?[t].flatMap { $0.method.hasPrefix("data movement of ") ? nil : $0 } }
    let searched = parallelMap(points.count, threads: config.plan.threads) { i in reused[i] == nil ? search(points[i]) : nil }
    let entries = points.indices.compactMap { reused[$0] ?? searched[$0] }
    // Data movement of a calibrated tensor carries its parameters (`quantizationPoints`).
    let calibrated = Dictionary(uniqueKeysWithValues: entries.map { ($0.tensor, $0) })
    var ordered: [CalibrationTable.Entry] = []
    for t in all.all {
        guard var e = calibrated[all.inherited[t] ?? t] else { continue }
        if let root = all.inherited[t] { e.tensor = t; e.method = "data movement of \(root)" }
        ordered.append(e)
    }
    return CalibrationTable(entries: ordered)
}

/// Everything decided before the histograms are collected: the optimized graph, the layers kept
/// in FP32, the tensors to observe and the bias corrections. A pure function of the model, the
/// first samples and the configuration, so a coordinator can recompute it after a restart.
public struct CalibrationPlan: Sendable {
    public var graph: Graph
    /// The configuration with the weight-sensitive layers added to the exclusions.
    public var config: QuantConfig
    /// The activations to histogram: the quantization points in graph order, then (with an accuracy
    /// bound) the tensors the search may need when it returns a node to FP32.
    public var watched: [String]
    /// Calibration samples: rows 0..<samples of the data.
    public var samples: Int
    /// Rows the accuracy-driven search (`QuantConfig.accuracy`) measures on, after the calibration
    /// rows; empty without it.
    public var validationRows: Range<Int> = 0..<0
    public var sensitivity: [String: Double]
    public var autoExcluded: [String]
    /// As sensitive as `autoExcluded`, but quantized: over `QuantConfig.sensitivityBudget`.
    public var sensitiveOverBudget: [String] = []
    public var corrections: [String: [Float]]
    /// What calibration changed in the FP32 graph before observing it (`calibrationGraph`).
    public var adjustments = GraphAdjustments()
    /// With `WeightRangeSearch.outputs`: per convolution, its weight scales.
    public var weightScales: [String: [Float]]? = nil
    /// With `WeightRounding.adaround`: per convolution, each weight's rounding direction.
    public var roundedUp: [String: [Bool]]? = nil

    /// The codes and scales of every weight the calibration may quantize, keyed as
    /// `InsertQuantizeDequantize.apply` reads them: the default ranges, or those the plan chose
    /// (`chosenWeights`). Quantized once here, since the clipping search is costly and the
    /// sensitivity analysis, the QDQ pass and the accuracy search all need the same codes.
    public var weights: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]
    /// Rows whose weight-quantization effects (`WeightEffectSample`) the plan still needs; empty
    /// once `completed(with:)` (see `planCalibration(deferAnalysis:)`).
    public var analysisRows: Range<Int> = 0..<0
    /// Whether the chosen weights (`WeightRangeSearch.outputs` on `rangeSamples` rows,
    /// AdaRound on `roundingSamples` rows) are still to be chosen by others, layer by layer, then
    /// given to `completed(withScales:rounding:data:)`.
    public var weightChoicePending = false
    public var rangeSamples = 0, roundingSamples = 0
}

/// Prepares a calibration: checks the model, optimizes it, and runs the weight-sensitivity
/// analysis and bias-correction measurement on the first samples.
///
/// With `deferAnalysis` (a cluster coordinator), that measurement is left to others when it can
/// be (`analysisRows` not empty: the default weight ranges and rounding): the plan then observes
/// every tensor any exclusion could need, and `completed(with:)` finishes it from the samples'
/// `WeightEffectSample`s. Either way the finished plan is the same.
public func planCalibration(_ model: Graph, calibrationData: any Dataset, config: QuantConfig,
                            deferAnalysis: Bool = false) throws -> CalibrationPlan {
    if let qdq = model.nodes.first(where: { $0.op.isQDQ }) { throw CalibrationError.alreadyQuantized(qdq.name) }
    let (graph, adjustments) = try calibrationGraph(model, data: calibrationData, config: config)
    let rows = min(calibrationData.count, config.samples ?? calibrationData.count)
    guard rows > 0 else { throw CalibrationError.emptyDataset }
    // With an accuracy bound, the last rows validate instead of calibrating.
    if config.accuracy != nil, rows < 2 { throw AccuracyControlError.tooFewSamples(rows) }
    let count = rows - (config.accuracy?.validation(of: rows) ?? 0)
    // Weights chosen layer by layer (ranges on the outputs, AdaRound) are left to others too:
    // the layers are independent.
    let deferWeights = deferAnalysis && (config.weightRanges == .outputs || config.weightRounding == .adaround)
    var weightScales: [String: [Float]]? = nil
    if config.weightRanges == .outputs, !deferWeights {
        weightScales = try outputMSEWeightScales(graph, data: calibrationData, samples: min(config.sensitivitySamples, count),
                                                 options: config.quantize, plan: config.plan)
    }
    var roundedUp: [String: [Bool]]? = nil
    if config.weightRounding == .adaround, !deferWeights {
        roundedUp = try adaRoundedWeights(graph, data: calibrationData, samples: min(config.adaRound.samples, count), options: config.quantize,
                                          plan: config.plan, weightScales: weightScales ?? [:], settings: config.adaRound)
    }
    // Before the sensitivity exclusions, so every weight a later exclusion (or the accuracy search)
    // might leave quantized is here.
    let weights = InsertQuantizeDequantize.quantizedWeights(graph, options: config.quantize, threads: config.plan.threads)
        .merging(chosenWeights(graph, scales: weightScales, roundedUp: roundedUp, options: config.quantize)) { _, picked in picked }
    var plan = CalibrationPlan(graph: graph, config: config, watched: [], samples: count, validationRows: count..<rows,
                               sensitivity: [:], autoExcluded: [], corrections: [:],
                               adjustments: adjustments, weightScales: weightScales, roundedUp: roundedUp, weights: weights)
    let analysis = config.sensitivityMarginDB != nil || config.biasCorrection ? 0..<min(config.sensitivitySamples, count) : 0..<0
    if deferWeights {
        plan.weightChoicePending = true
        plan.rangeSamples = config.weightRanges == .outputs ? min(config.sensitivitySamples, count) : 0
        plan.roundingSamples = config.weightRounding == .adaround ? min(config.adaRound.samples, count) : 0
        plan.analysisRows = analysis
        plan.watched = CalibrationPlan.watchedTensors(graph, config: config, everyExclusion: true)
        return plan
    }
    // Workers quantize the weights by the default rule only; chosen ranges or rounding stay here.
    if deferAnalysis, !analysis.isEmpty, weightScales == nil, roundedUp == nil {
        plan.analysisRows = analysis
        plan.watched = CalibrationPlan.watchedTensors(graph, config: config, everyExclusion: true)
        return plan
    }
    return plan.completed(with: try WeightEffects.measure(graph, data: calibrationData, rows: analysis, options: config.quantize,
                                                          plan: config.plan, chosen: weights))
}

extension CalibrationPlan {
    /// The plan finished with its chosen weights (`outputMSEWeightScales` and `adaRoundedWeights`
    /// of every layer, merged from `weightChoiceGroups`' shares; nil where the configuration
    /// chooses none): the weights' codes, then the analysis on `data`'s analysis rows with them
    /// (as `planCalibration` does in one process).
    public func completed(withScales scales: [String: [Float]]?, rounding roundedUp: [String: [Bool]]?, data: any Dataset) throws -> CalibrationPlan {
        var plan = self
        plan.weightChoicePending = false
        plan.weightScales = config.weightRanges == .outputs ? scales ?? [:] : nil
        plan.roundedUp = config.weightRounding == .adaround ? roundedUp ?? [:] : nil
        plan.weights.merge(chosenWeights(graph, scales: plan.weightScales, roundedUp: plan.roundedUp, options: config.quantize)) { _, picked in picked }
        return plan.completed(with: try WeightEffects.measure(graph, data: data, rows: analysisRows, options: config.quantize,
                                                              plan: config.plan, chosen: plan.weights))
    }

    /// The plan finished with the weight-quantization effects of its analysis rows: the
    /// sensitivity exclusions, the bias corrections, and the tensors to observe.
    public func completed(with effects: WeightEffects) -> CalibrationPlan {
        var plan = self
        plan.analysisRows = 0..<0
        plan.sensitivity = effects.sensitivity
        plan.corrections = effects.biasCorrection
        if let margin = config.sensitivityMarginDB {
            let rule = sensitiveLayers(effects.sensitivity, margin: margin, multiplyAdds: effects.multiplyAdds(graph),
                                       budget: config.sensitivityBudget, excluded: config.quantize.excludedNodes)
            plan.autoExcluded = rule.kept.sorted()
            plan.sensitiveOverBudget = rule.overBudget.sorted()
            plan.config.quantize.excludedNodes.formUnion(rule.kept)
        }
        plan.watched = Self.watchedTensors(graph, config: plan.config, everyExclusion: false)
        return plan
    }

    /// The activations to histogram: the quantization points in graph order, then (with an
    /// accuracy bound) the tensors the search may need when it returns a node to FP32.
    /// `everyExclusion`: before the sensitivity exclusions are known, every tensor that is a
    /// quantization point or carries one's parameters (`all`): excluding convolutions only removes
    /// points, so this covers whichever layers the analysis keeps in FP32.
    static func watchedTensors(_ graph: Graph, config: QuantConfig, everyExclusion: Bool) -> [String] {
        func points(_ options: QuantizeOptions) -> [String] {
            let p = InsertQuantizeDequantize.quantizationPoints(graph, options: options)
            return everyExclusion ? p.all : p.activations
        }
        var watched = points(config.quantize)
        if config.accuracy != nil {
            // The accuracy-driven search returns nodes to FP32: the tensors that then become
            // quantization points in their own right (a layer's input whose producer is returned) are
            // observed too.
            var seen = Set(watched)
            for node in InsertQuantizeDequantize.quantizedNodes(graph, options: config.quantize) {
                var options = config.quantize
                options.excludedNodes.insert(node)
                for t in points(options) where seen.insert(t).inserted { watched.append(t) }
            }
        }
        return watched
    }
}

/// The FP32 graph a calibration observes: the optimized model, cross-layer equalized when the
/// configuration asks (through the ReLU6 nodes that never clip on the first statistics samples),
/// then with high biases absorbed when it asks (by each channel's mean − 3σ on those samples;
/// `absorbableBiases`). A pure function of the model, those samples and the configuration, so every worker
/// of a cluster job histograms the graph the coordinator planned.
public func calibrationGraph(_ model: Graph, data: any Dataset, config: QuantConfig) throws -> (graph: Graph, adjustments: GraphAdjustments) {
    let optimized = try ModelLoader.optimize(model)
    var adjustments = GraphAdjustments()
    if config.crossLayerEqualization {
        adjustments.equalizedClips = try unclippedActivations(optimized, data: data, samples: config.sensitivitySamples, plan: config.plan).sorted()
    }
    if config.highBiasAbsorption {
        let equalized = adjustments.applied(to: optimized)
        adjustments.absorbedBiases = try absorbableBiases(equalized, data: data, samples: config.sensitivitySamples, plan: config.plan)
    }
    return (adjustments.applied(to: optimized), adjustments)
}

/// Per high-bias absorption candidate (`HighBiasAbsorption.candidates`): each output channel's
/// mean minus three standard deviations over the first `samples` rows' pixels, floored at 0 (the
/// paper's β − 3γ of a BatchNormalization, measured instead of read, since the BatchNormalization
/// is folded by now); only convolutions with something to absorb. The few values below it (about
/// 0.1% if Gaussian) are raised to it by the Relu after absorption, as in the paper. Sums run per
/// sample in a fixed order, so the result does not depend on threads.
func absorbableBiases(_ graph: Graph, data: any Dataset, samples: Int, plan: PlanOptions) throws -> [String: [Float]] {
    let candidates = HighBiasAbsorption.candidates(graph)
    guard !candidates.isEmpty else { return [:] }
    /// Per channel: Σx, Σx² and the count over one sample's pixels, in pixel order.
    final class Moments: TensorObserver, @unchecked Sendable {
        let lock = NSLock()
        var sums: [String: (s: [Double], q: [Double], n: Int)] = [:]
        let watched: Set<String>
        init(_ watched: Set<String>) { self.watched = watched }
        func observe(_ t: ObservedTensor, worker: Int) {
            guard watched.contains(t.name), t.shape.rank == 4 else { return }
            let channels = t.shape[1], plane = max(t.shape[2] * t.shape[3], 1)
            var s = [Double](repeating: 0, count: channels), q = s
            for (i, v) in t.values.enumerated() {
                let c = t.layout == .nhwc ? i % channels : (i / plane) % channels
                s[c] += Double(v)
                q[c] += Double(v) * Double(v)
            }
            lock.lock()
            sums[t.name] = (s, q, plane)
            lock.unlock()
        }
    }
    var options = plan
    options.fuse = false
    let run = try ModelRun(graph: graph, options: options)
    let watched = Set(candidates.map(\.output))
    var total: [String: (s: [Double], q: [Double], n: Int)] = [:]
    for i in 0..<min(max(samples, 1), data.count) {
        for (_, inputs) in try run.inputBatches(data, i..<(i + 1)) {
            let observer = Moments(watched)
            _ = try run.run(inputs, observer: observer)
            for (name, m) in observer.sums {
                let t = total[name] ?? (Array(repeating: 0, count: m.s.count), Array(repeating: 0, count: m.s.count), 0)
                guard t.s.count == m.s.count else { continue }
                total[name] = (zip(t.s, m.s).map(+), zip(t.q, m.q).map(+), t.n + m.n)
            }
        }
    }
    var amounts: [String: [Float]] = [:]
    for (node, output) in candidates {
        guard let m = total[output], m.n > 0 else { continue }
        let c = zip(m.s, m.q).map { s, q -> Float in
            let mean = s / Double(m.n), variance = max(q / Double(m.n) - mean * mean, 0)
            let v = Float(mean - 3 * variance.squareRoot())
            return v.isFinite ? max(0, v) : 0
        }
        if c.contains(where: { $0 > 0 }) { amounts[node] = c }
    }
    return amounts
}

/// The ReLU6 nodes between two convolutions whose input never exceeds the bound on the first
/// `samples` rows: cross-layer equalization may turn those into Relu without changing what the
/// model computes on its data.
func unclippedActivations(_ graph: Graph, data: any Dataset, samples: Int, plan: PlanOptions) throws -> Set<String> {
    let clips = CrossLayerEqualization.clipsBetweenConvolutions(graph)
    guard !clips.isEmpty else { return [] }
    final class Peak: TensorObserver, @unchecked Sendable {
        let lock = NSLock()
        var peaks: [String: Float] = [:]
        let watched: Set<String>
        init(_ watched: Set<String>) { self.watched = watched }
        func observe(_ t: ObservedTensor, worker: Int) {
            guard watched.contains(t.name) else { return }
            let m = t.values.reduce(-Float.infinity) { $1.isNaN ? .infinity : max($0, $1) }
            lock.lock(); peaks[t.name] = max(peaks[t.name] ?? -.infinity, m); lock.unlock()
        }
    }
    var options = plan
    options.fuse = false
    let run = try ModelRun(graph: graph, options: options)
    let peak = Peak(Set(clips.map(\.input)))
    for (_, inputs) in try run.inputBatches(data, 0..<min(max(samples, 1), data.count)) { _ = try run.run(inputs, observer: peak) }
    return Set(clips.filter { (peak.peaks[$0.input] ?? .infinity) <= $0.max }.map(\.node))
}

/// Turns merged histograms into the quantized model: thresholds, bias correction, QDQ graph; with
/// an accuracy bound, the fewest layers returned to FP32 that meet it on `data`'s validation rows
/// (`controlAccuracy`, its ranking measured here).
public func finishCalibration(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], seconds: Double,
                              data: (any Dataset)? = nil) throws -> QuantizedModel {
    switch try finishCalibration(plan, histograms: histograms, seconds: seconds, data: data, search: .here) {
    case .quantized(let q): return q
    case .measure: throw PipelineError.badOption("the accuracy-driven search stopped for measurements")
    }
}

/// What `finishCalibration` came to: the quantized model, or (its accuracy search measured on
/// workers) the sets of layers returned to FP32 to measure next (`AccuracySearchMeter`).
public enum CalibrationFinish {
    case quantized(QuantizedModel)
    case measure([[String]])
}

/// `finishCalibration` with the accuracy-driven search's measurements made where `search` says: a
/// distributed calibration has its workers measure each batch the search asks for, and finishes
/// once the search, replayed on all of them, is done.
public func finishCalibration(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], seconds: Double,
                              data: (any Dataset)?, search: AccuracySearchMode) throws -> CalibrationFinish {
    let build = quantizer(plan, histograms: histograms, seconds: seconds)
    guard let bound = plan.config.accuracy else { return .quantized(try build(plan.config, nil)) }
    guard let data else { throw PipelineError.badOption("--max-drop needs the calibration data to validate on") }
    switch try controlAccuracy(plan, histograms: histograms, data: data, bound: bound, mode: search, build: build) {
    case .done(var q, let report):
        q.accuracy = report
        return .quantized(q)
    case .measure(let sets):
        return .measure(sets)
    }
}

/// The quantized model of `plan` from `histograms` under a configuration (the accuracy-driven
/// search varies its exclusions) and the thresholds already known.
func quantizer(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], seconds: Double) -> (QuantConfig, CalibrationTable?) throws -> QuantizedModel {
    // The weight codes do not depend on which layers the accuracy-driven search returns to FP32;
    // ranges chosen on the outputs and AdaRound's rounding replace the default ones (`plan.weights`).
    let weights = plan.weights
    func build(_ config: QuantConfig, _ known: CalibrationTable?) throws -> QuantizedModel {
        let table = try calibrationTable(plan.graph, histograms: histograms, config: config, known: known)
        // Only layers whose weights are actually quantized get the correction (exclusions by name or op type).
        let quantized = InsertQuantizeDequantize.quantizationPoints(plan.graph, options: config.quantize).weighted
        let corrections = config.biasCorrection
            ? cappedBiasCorrections(plan.graph, plan.corrections, cap: config.biasCorrectionCap).filter { quantized.contains($0.key) } : [:]
        let qdq = try InsertQuantizeDequantize.apply(applyBiasCorrection(plan.graph, corrections), table: table,
                                                     options: config.quantize, weights: weights)
        return QuantizedModel(fp32: plan.graph, qdq: qdq, table: table, histograms: histograms, samples: plan.samples,
                              seconds: seconds, sensitivity: plan.sensitivity, autoExcluded: plan.autoExcluded,
                              sensitiveOverBudget: plan.sensitiveOverBudget,
                              quantize: config.quantize, biasCorrections: corrections,
                              equalizedClips: plan.adjustments.equalizedClips, absorbedBiases: plan.adjustments.absorbedBiases,
                              weightScales: plan.weightScales, roundedUp: plan.roundedUp)
    }
    return build
}

/// Calibrates `model` on `calibrationData` and quantizes it: the library's main call.
public func quantizeModel(_ model: Graph, calibrationData: any Dataset, config: QuantConfig,
                          progress: ProgressHandler? = nil) throws -> QuantizedModel {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let plan = try planCalibration(model, calibrationData: calibrationData, config: config)
    let histograms = try collectHistograms(plan.graph, data: calibrationData, range: 0..<plan.samples, watched: Set(plan.watched),
                                           options: plan.config.plan, batch: plan.config.batch, progress: progress)
    return try finishCalibration(plan, histograms: histograms, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9,
                                 data: calibrationData)
}

/// An INT8 model ready to run batches.
public struct InferenceSession: Sendable {
    public let plan: Int8Plan
    public let inputName: String
    public let outputName: String
    /// The per-image input shape [C, H, W].
    public let chw: [Int]

    public func run(_ batch: Tensor) throws -> Tensor {
        guard let out = try plan.run([inputName: batch])[outputName] else { throw PipelineError.notAnImageModel([]) }
        return out
    }
}

/// Compiles a quantized model for INT8 inference on `threads` threads.
public func deployQuantizedModel(_ model: QuantizedModel, threads: Int = 1) throws -> InferenceSession {
    try deployQDQ(model.qdq, threads: threads)
}

/// Compiles any QDQ graph (ours or another tool's) for INT8 inference on the `isa` kernel path.
public func deployQDQ(_ graph: Graph, threads: Int, isa: ISA = .best) throws -> InferenceSession {
    let (input, chw) = try ModelLoader.imageInput(of: graph)
    guard let output = graph.outputs.first?.name else { throw PipelineError.notAnImageModel([]) }
    return InferenceSession(plan: try Int8Plan(graph: graph, threads: threads, isa: isa), inputName: input, outputName: output, chw: chw)
}
