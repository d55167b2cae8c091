import Foundation
import OctetCalibration
import OctetData
import OctetIR
import OctetPasses
import OctetRuntime

/// The quality an accuracy-driven calibration bounds, measured on held-out calibration rows.
/// Every metric is in percent with FP32 at its best, so a bound is a drop in points:
/// - `top1`: INT8 top-1 accuracy against the labels (FP32: its own accuracy);
/// - `agreement`: samples whose INT8 top-1 class is FP32's (FP32: 100);
/// - `sqnr`: 100·(1 − noise/signal) of the outputs against FP32 (FP32: 100), for any model; a
///   drop of P points is an output SQNR of −10·log10(P/100) dB (0.1 → 30 dB, 1 → 20 dB).
public enum AccuracyMetric: String, Codable, Hashable, Sendable, CaseIterable {
    case top1, agreement, sqnr
}

/// `--max-drop`: keep the fewest layers in FP32 that hold the metric within `maxDrop` points of
/// FP32 on the last `validationSamples` calibration rows (which then feed no histogram).
public struct AccuracyBound: Codable, Hashable, Sendable {
    public var maxDrop: Double
    /// nil: `agreement` for a classifier, `sqnr` for any other model.
    public var metric: AccuracyMetric?
    /// nil: a quarter of the calibration rows.
    public var validationSamples: Int?
    /// How sure the validation rows must make the bound, in [0, 1): the metric the search holds is
    /// the one the rows vouch for at this confidence over bootstrap resamplings of them
    /// (`ValidationScores`); 0 holds the plain value. nil: `defaultConfidence`.
    public var confidence: Double?

    public init(maxDrop: Double, metric: AccuracyMetric? = nil, validationSamples: Int? = nil, confidence: Double? = nil) {
        self.maxDrop = maxDrop
        self.metric = metric
        self.validationSamples = validationSamples
        self.confidence = confidence
    }

    /// The confidence when none is asked for. Chosen by 2-fold cross-validation on seven zoo
    /// models (docs/calibration.md, "Accuracy-driven mode"): against the plain value (0), 0.95
    /// raised the held-out SQNR in all 12 folds bounded by it and held the bound in 8 folds of 14
    /// instead of 2, returning about as many layers: the resampled metric weighs the few images
    /// that dominate an error.
    public static let defaultConfidence = 0.95

    /// The confidence the search holds the bound at.
    var confidenceHeld: Double { confidence ?? Self.defaultConfidence }

    /// Held-out rows out of `count` calibration rows.
    func validation(of count: Int) -> Int { min(max(validationSamples ?? count / 4, 1), max(count - 1, 0)) }
}

/// What the accuracy-driven search did, for the report and the command's output.
public struct AccuracyControlReport: Sendable, Codable, Equatable {
    public struct Step: Sendable, Codable, Equatable {
        public var layer: String
        /// The metric with this layer alone returned to FP32, minus the all-INT8 metric.
        public var gainAlone: Double
        /// The metric when the search had returned this layer and the ones ranked before it
        /// (before the pruning that may have sent some of those back to INT8).
        public var metricAfter: Double
    }
    public var metric: AccuracyMetric
    public var maxDrop: Double
    public var validationSamples: Int
    /// The confidence the metric is measured at (0: the plain value on the validation rows).
    public var confidence: Double
    public var fp32: Double
    /// Every candidate layer INT8.
    public var allInt8: Double
    /// The model written.
    public var final: Double
    /// The layers returned to FP32, as kept after pruning (each needed: without any one of them the
    /// bound fails).
    public var returned: [Step]
    /// Every candidate with its gain alone, best first.
    public var ranking: [Step]
    public var met: Bool
}

public enum AccuracyControlError: Error, CustomStringConvertible {
    case needsLabels(Int)
    case notAClassifier(AccuracyMetric)
    case tooFewSamples(Int)

    public var description: String {
        switch self {
        case .needsLabels(let n): "--metric top1 needs a label for every validation sample (\(n) have none): pass --labels"
        case .notAClassifier(let m): "--metric \(m.rawValue) needs a classifier (one output [N, classes]); use --metric sqnr"
        case .tooFewSamples(let n): "--max-drop needs at least 2 calibration samples (one to calibrate, one to validate); there are \(n)"
        }
    }
}

/// The FP32 outputs of the validation rows, computed once, and the metric of any INT8 graph on them.
struct AccuracyProbe {
    let batches: [(images: Range<Int>, inputs: [String: Tensor], fp32: [String: Tensor])]
    let names: [String]
    let classifier: String?
    let labels: [Int?]
    let metric: AccuracyMetric
    /// The confidence the measurements are made at (`ValidationScores`).
    let confidence: Double
    let options: PlanOptions

    init(graph: Graph, data: any Dataset, rows: Range<Int>, bound: AccuracyBound, options: PlanOptions) throws {
        let reference = try ModelRun(graph: graph, options: options)
        var batches: [(images: Range<Int>, inputs: [String: Tensor], fp32: [String: Tensor])] = []
        var start = rows.lowerBound
        while start < rows.upperBound {
            let r = start..<min(start + 16, rows.upperBound)
            for (images, inputs) in try reference.inputBatches(data, r) { batches.append((images, inputs, try reference.run(inputs))) }
            start = r.upperBound
        }
        self.batches = batches
        names = reference.outputNames
        classifier = batches.first.flatMap { ModelRun.classifierOutput($0.fp32, names: reference.outputNames, images: $0.images.count) }
        labels = rows.map { data.label($0) }
        metric = bound.metric ?? (classifier != nil ? .agreement : .sqnr)
        confidence = bound.confidenceHeld
        self.options = options
        if metric != .sqnr, classifier == nil { throw AccuracyControlError.notAClassifier(metric) }
        if metric == .top1, labels.contains(where: { $0 == nil }) { throw AccuracyControlError.needsLabels(labels.filter { $0 == nil }.count) }
    }

    var rows: Int { labels.count }

    /// Each validation row's top-1 class under FP32 (classifiers only).
    private var fp32Classes: [Int?] {
        guard let classifier else { return [] }
        var classes: [Int?] = []
        for b in batches { classes += Self.topClasses(b.fp32[classifier]?.floats ?? [], images: b.images.count) }
        return classes
    }

    /// The top-1 class of each of `images` rows of `logits` (nil for a row that is not there).
    private static func topClasses(_ logits: [Float], images: Int) -> [Int?] {
        let classes = logits.count / max(images, 1)
        return (0..<images).map { i in
            classes == 0 ? nil : TopK.indices(logits[(i * classes)..<((i + 1) * classes)], k: 1).first
        }
    }

    /// The metric of FP32 itself.
    var fp32: Double {
        switch metric {
        case .agreement, .sqnr: return 100
        case .top1:
            let correct = zip(fp32Classes, labels).filter { $0.0 != nil && $0.0 == $0.1 }.count
            return 100 * Double(correct) / Double(max(rows, 1))
        }
    }

    /// The metric of the INT8 graph `qdq` on the validation rows at the probe's confidence (0:
    /// the plain value; see `ValidationScores`).
    func measure(_ qdq: Graph) throws -> Double {
        try scores(qdq).value(confidence: confidence)
    }

    /// Each validation row's share of the metric of the INT8 graph `qdq`.
    func scores(_ qdq: Graph) throws -> ValidationScores {
        let run = try ModelRun(graph: qdq, options: options)
        var scores = ValidationScores(base: fp32, rows: rows, floorAtZero: metric == .sqnr)
        let reference = metric == .top1 ? fp32Classes : []
        var k = 0
        for b in batches {
            let out = try run.run(b.inputs)
            defer { k += b.images.count }
            if metric == .sqnr {
                for name in classifier.map({ [$0] }) ?? names {
                    guard let x = b.fp32[name]?.floats, let y = out[name]?.floats else { continue }
                    // An image's share: its slice of the batch's output; an output not split by
                    // image counts for the batch's first row.
                    let per = x.count % b.images.count == 0 ? max(x.count / b.images.count, 1) : x.count
                    for (j, (u, v)) in zip(x, y).enumerated() {
                        let (du, dv) = (Double(u), Double(v)), row = k + j / per
                        scores.signal[row] += du * du
                        scores.noise[row] += (du - dv).isNaN ? du * du + 1 : (du - dv) * (du - dv)
                    }
                }
                continue
            }
            guard let classifier, let a = b.fp32[classifier]?.floats, let q = out[classifier]?.floats else { continue }
            let int8 = Self.topClasses(q, images: b.images.count), fp = Self.topClasses(a, images: b.images.count)
            for i in 0..<b.images.count {
                scores.signal[k + i] = 1
                switch metric {
                case .agreement: scores.noise[k + i] = fp[i] != nil && fp[i] == int8[i] ? 0 : 1
                case .top1:
                    func hit(_ c: Int?) -> Double { c != nil && c == labels[k + i] ? 1 : 0 }
                    scores.noise[k + i] = hit(reference[k + i]) - hit(int8[i])
                case .sqnr: break
                }
            }
        }
        return scores
    }
}

/// One measurement of the accuracy-driven search: the metric on the validation rows with `layers`
/// returned to FP32 (sorted; empty: every layer INT8), or nil when that model cannot be built (a
/// return that needs a histogram nobody collected).
public struct AccuracyMeasurement: Codable, Hashable, Sendable {
    public var layers: [String]
    public var value: Double?

    public init(layers: [String], value: Double?) {
        self.layers = layers.sorted()
        self.value = value
    }
}

/// What the accuracy-driven search knows: the probe's side (its metric, validation rows and FP32
/// value) and every measurement so far. The search is a pure function of it (`AccuracySearch`),
/// so the measurements can be made anywhere, in any order, in batches, and the same search runs.
public struct AccuracyEvidence: Sendable {
    public var metric: AccuracyMetric
    public var rows: Int
    public var fp32: Double
    var values: [[String]: Double?] = [:]

    public init(metric: AccuracyMetric, rows: Int, fp32: Double) {
        self.metric = metric
        self.rows = rows
        self.fp32 = fp32
    }

    public mutating func add(_ m: AccuracyMeasurement) { values[m.layers.sorted()] = .some(m.value) }

    /// The measurement of `layers` returned to FP32: nil when not measured yet; `.some(nil)`
    /// when that model cannot be built.
    func lookup(_ layers: [String]) -> Double?? { values[layers.sorted()] }
}

/// What the accuracy-driven search came to: the layers returned and its report, or the sets of
/// layers it must have measured to go on (the first is needed; the rest are what it will need
/// next if the first neither meets the bound nor removes a layer: measuring them in the same batch
/// saves a round, and a wrong guess costs only its measurement).
enum AccuracySearchStep {
    case done(returned: [String], AccuracyControlReport)
    case need([[String]], speculative: Bool)
}

/// The accuracy-driven search (NNCF's accuracy control, on every node the quantize pass
/// quantizes: weighted layers, Add, Mul, Concat, pooling, tables), replayed from `evidence`:
/// measure every layer INT8; if the bound misses, rank every candidate by the metric with it alone
/// returned to FP32, return layers best first until the bound holds, then drop every returned
/// layer the bound does not need (last returned first). A layer whose return cannot be built is
/// skipped wherever it comes up.
struct AccuracySearch {
    let candidates: [String]
    let bound: AccuracyBound
    /// How many sets a speculative batch asks for.
    static let batch = 8

    func meets(_ value: Double, _ fp32: Double) -> Bool { fp32 - value <= bound.maxDrop + 1e-9 }

    func step(_ evidence: AccuracyEvidence) throws -> AccuracySearchStep {
        let fp32 = evidence.fp32
        guard let allEntry = evidence.lookup([]) else { return .need([[]], speculative: false) }
        guard let allValue = allEntry else { throw PipelineError.badOption("the model with every layer INT8 cannot be built") }
        var report = AccuracyControlReport(metric: evidence.metric, maxDrop: bound.maxDrop, validationSamples: evidence.rows,
                                           confidence: bound.confidenceHeld, fp32: fp32, allInt8: allValue, final: allValue, returned: [], ranking: [], met: meets(allValue, fp32))
        if report.met { return .done(returned: [], report) }
        let missing = candidates.filter { evidence.lookup([$0]) == nil }
        if !missing.isEmpty { return .need(missing.map { [$0] }, speculative: false) }
        var gains: [String: Double] = [:]
        for c in candidates { if case .some(.some(let v)) = evidence.lookup([c]) { gains[c] = v - allValue } }
        let ranked = gains.keys.sorted { gains[$0]! > gains[$1]! || (gains[$0]! == gains[$1]! && $0 < $1) }
        report.ranking = ranked.map { .init(layer: $0, gainAlone: gains[$0]!, metricAfter: allValue + gains[$0]!) }
        var chosen: [String] = [], after: [String: Double] = [:]
        var best = (layers: [String](), value: allValue)
        for (i, c) in ranked.enumerated() {
            guard let entry = evidence.lookup(chosen + [c]) else {
                // Next: this one, and the ones after it as if each were built and missed the bound.
                var sets: [[String]] = [], s = chosen
                for d in ranked[i...] where sets.count < Self.batch {
                    s.append(d)
                    if evidence.lookup(s) == nil { sets.append(s) }
                }
                return .need(sets, speculative: true)
            }
            // A combination that needs a tensor nobody observed is skipped, like such a candidate.
            guard let v = entry else { continue }
            chosen.append(c)
            after[c] = v
            best = (chosen, v)
            if meets(v, fp32) { break }
        }
        if meets(best.value, fp32) {
            // Fewest layers: each returned layer the bound holds without goes back to INT8.
            let order = Array(chosen.reversed())
            for (i, c) in order.enumerated() where chosen.count > 1 {
                let without = chosen.filter { $0 != c }
                guard let entry = evidence.lookup(without) else {
                    // Next: this one, and the ones after it as if none could go back.
                    var sets: [[String]] = []
                    for d in order[i...] where sets.count < Self.batch {
                        let w = chosen.filter { $0 != d }
                        if evidence.lookup(w) == nil { sets.append(w) }
                    }
                    return .need(sets, speculative: true)
                }
                guard let v = entry else { continue }
                if meets(v, fp32) { chosen = without; best = (without, v) }
            }
        }
        report.returned = chosen.map { .init(layer: $0, gainAlone: gains[$0] ?? 0, metricAfter: after[$0] ?? best.value) }
        report.final = best.value
        report.met = meets(best.value, fp32)
        return .done(returned: chosen, report)
    }
}

/// The models of the accuracy-driven search: the all-INT8 one, and the same with layers returned
/// to FP32. Every other model's thresholds are the all-INT8 table's (same histograms): only
/// computed anew for a tensor that becomes calibrated in its own right.
struct AccuracyModels {
    let plan: CalibrationPlan
    let build: (QuantConfig, CalibrationTable?) throws -> QuantizedModel
    let all: QuantizedModel

    init(_ plan: CalibrationPlan, build: @escaping (QuantConfig, CalibrationTable?) throws -> QuantizedModel) throws {
        self.plan = plan
        self.build = build
        all = try build(plan.config, nil)
    }

    func returning(_ layers: [String]) throws -> QuantizedModel {
        guard !layers.isEmpty else { return all }
        var config = plan.config
        config.quantize.excludedNodes.formUnion(layers)
        return try build(config, all.table)
    }

    /// Every node the quantize pass quantizes, in name order: what the search may return to FP32.
    var candidates: [String] { InsertQuantizeDequantize.quantizedNodes(plan.graph, options: plan.config.quantize).sorted() }

    /// The measurement of each of `sets` (nil value: cannot be built).
    func measure(_ sets: [[String]], probe: AccuracyProbe) throws -> [AccuracyMeasurement] {
        try sets.map { layers in
            guard let q = try? returning(layers) else { return AccuracyMeasurement(layers: layers, value: nil) }
            return AccuracyMeasurement(layers: layers, value: try probe.measure(q.qdq))
        }
    }
}

/// The accuracy-driven search's measurements made in batches (on workers): the probe (the
/// validation rows' FP32 outputs) and the all-INT8 model are made once, for every batch a worker
/// measures of the same calibration; each measurement is what the search makes in one process.
public final class AccuracySearchMeter: @unchecked Sendable {
    let probe: AccuracyProbe
    let models: AccuracyModels

    public init(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], data: any Dataset) throws {
        guard let bound = plan.config.accuracy else { throw PipelineError.badOption("the calibration has no accuracy bound (--max-drop) to search for") }
        probe = try AccuracyProbe(graph: plan.graph, data: data, rows: plan.validationRows, bound: bound, options: plan.config.plan)
        models = try AccuracyModels(plan, build: quantizer(plan, histograms: histograms, seconds: 0))
    }

    /// The probe's side of the evidence (metric, rows, FP32 value).
    public var evidence: AccuracyEvidence { AccuracyEvidence(metric: probe.metric, rows: probe.rows, fp32: probe.fp32) }

    public func measure(_ sets: [[String]]) throws -> [AccuracyMeasurement] { try models.measure(sets, probe: probe) }
}

/// Where the accuracy-driven search measures.
public enum AccuracySearchMode: Sendable {
    /// Here, one measurement after another (one process).
    case here
    /// On workers (`AccuracySearchMeter`), in batches: what they measured so far (nil: nothing
    /// yet). The search replays on it and asks for the next batch, or finishes.
    case measured(AccuracyEvidence?)
}

/// What the accuracy-driven search came to: the model and its report, or the sets to measure next.
enum AccuracyControlStep {
    case done(QuantizedModel, AccuracyControlReport)
    case measure([[String]])
}

/// The accuracy-driven search (`AccuracySearch`) with its measurements made where `mode` says.
/// Thresholds come from the same histograms throughout; only the exclusions change. Returns the
/// model to write and what was done, or the sets to measure on the workers.
func controlAccuracy(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], data: any Dataset, bound: AccuracyBound,
                     mode: AccuracySearchMode, build: @escaping (QuantConfig, CalibrationTable?) throws -> QuantizedModel) throws -> AccuracyControlStep {
    let models = try AccuracyModels(plan, build: build)
    let search = AccuracySearch(candidates: models.candidates, bound: bound)
    var evidence: AccuracyEvidence
    var probe: AccuracyProbe?
    switch mode {
    case .measured(nil): return .measure([[]])
    case .measured(let e?): evidence = e
    case .here:
        let p = try AccuracyProbe(graph: plan.graph, data: data, rows: plan.validationRows, bound: bound, options: plan.config.plan)
        probe = p
        evidence = AccuracyEvidence(metric: p.metric, rows: p.rows, fp32: p.fp32)
    }
    while true {
        switch try search.step(evidence) {
        case .done(let returned, let report):
            return .done(try models.returning(returned), report)
        case .need(let sets, let speculative):
            guard let probe else { return .measure(sets) }
            // In one process only what is needed: the first of a speculative batch.
            for m in try models.measure(speculative ? Array(sets.prefix(1)) : sets, probe: probe) { evidence.add(m) }
        }
    }
}
