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

    public init(maxDrop: Double, metric: AccuracyMetric? = nil, validationSamples: Int? = nil) {
        self.maxDrop = maxDrop
        self.metric = metric
        self.validationSamples = validationSamples
    }

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
    let options: PlanOptions

    init(graph: Graph, data: any Dataset, rows: Range<Int>, metric requested: AccuracyMetric?, options: PlanOptions) throws {
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
        metric = requested ?? (classifier != nil ? .agreement : .sqnr)
        self.options = options
        if metric != .sqnr, classifier == nil { throw AccuracyControlError.notAClassifier(metric) }
        if metric == .top1, labels.contains(where: { $0 == nil }) { throw AccuracyControlError.needsLabels(labels.filter { $0 == nil }.count) }
    }

    var rows: Int { labels.count }

    /// The metric of FP32 itself.
    var fp32: Double {
        switch metric {
        case .agreement, .sqnr: return 100
        case .top1:
            guard let classifier else { return 0 }
            var correct = 0, k = 0
            for b in batches {
                let logits = b.fp32[classifier]?.floats ?? [], classes = logits.count / max(b.images.count, 1)
                for i in 0..<b.images.count {
                    if TopK.indices(Array(logits[(i * classes)..<((i + 1) * classes)]), k: 1).first == labels[k] { correct += 1 }
                    k += 1
                }
            }
            return 100 * Double(correct) / Double(max(rows, 1))
        }
    }

    /// The metric of the INT8 graph `qdq` on the validation rows.
    func measure(_ qdq: Graph) throws -> Double {
        let run = try ModelRun(graph: qdq, options: options)
        var signal = 0.0, noise = 0.0, hits = 0, k = 0
        for b in batches {
            let out = try run.run(b.inputs)
            if metric == .sqnr {
                for name in classifier.map({ [$0] }) ?? names {
                    guard let x = b.fp32[name]?.floats, let y = out[name]?.floats else { continue }
                    for (u, v) in zip(x, y) {
                        let (du, dv) = (Double(u), Double(v))
                        signal += du * du
                        noise += (du - dv).isNaN ? du * du + 1 : (du - dv) * (du - dv)
                    }
                }
                continue
            }
            guard let classifier, let a = b.fp32[classifier]?.floats, let q = out[classifier]?.floats else { continue }
            let classes = a.count / max(b.images.count, 1)
            for i in 0..<b.images.count {
                let rows = (i * classes)..<((i + 1) * classes)
                let tq = TopK.indices(Array(q[rows]), k: 1).first
                switch metric {
                case .agreement: if TopK.indices(Array(a[rows]), k: 1).first == tq { hits += 1 }
                case .top1: if tq == labels[k] { hits += 1 }
                case .sqnr: break
                }
                k += 1
            }
        }
        if metric == .sqnr { return signal == 0 ? (noise == 0 ? 100 : 0) : 100 * max(0, 1 - noise / signal) }
        return 100 * Double(hits) / Double(max(rows, 1))
    }
}

/// Where the accuracy-driven search measures its ranking (the metric with each candidate alone
/// returned to FP32: one INT8 pass over the validation rows per candidate, most of its cost).
public enum AccuracyRanking: Sendable {
    /// Here, one candidate after another (one process).
    case here
    /// Elsewhere: stop before the ranking and name the candidates to measure
    /// (`measureCandidatesAlone`, on workers).
    case deferred
    /// Measured elsewhere: each candidate's metric alone in FP32 (`measureCandidatesAlone`; a
    /// candidate without a value could not be built, and is skipped as the search skips it).
    case measured([String: Double])
}

/// What the accuracy-driven search came to: the model and its report, or (deferred) the
/// candidates whose ranking is to be measured first.
enum AccuracyControlStep {
    case done(QuantizedModel, AccuracyControlReport)
    case rank([String])
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
        var config = plan.config
        config.quantize.excludedNodes.formUnion(layers)
        return try build(config, all.table)
    }

    /// Every node the quantize pass quantizes, in name order: what the search may return to FP32.
    var candidates: [String] { InsertQuantizeDequantize.quantizedNodes(plan.graph, options: plan.config.quantize).sorted() }

    /// The metric with each of `candidates` alone returned to FP32; a layer whose return would need
    /// a histogram nobody collected is not a candidate (left out).
    func alone(_ candidates: [String], probe: AccuracyProbe) throws -> [String: Double] {
        var values: [String: Double] = [:]
        for c in candidates {
            guard let q = try? returning([c]) else { continue }
            values[c] = try probe.measure(q.qdq)
        }
        return values
    }
}

/// The accuracy-driven search's ranking measured in shares (on workers): the metric on `plan`'s
/// validation rows with each candidate alone returned to FP32, exactly as the search measures it
/// in one process (`AccuracyRanking.measured` takes the values of every share back). The
/// validation rows' FP32 outputs and the all-INT8 model are made once, for every share a worker
/// measures of the same calibration.
public final class AccuracyRankingMeter: @unchecked Sendable {
    let probe: AccuracyProbe
    let models: AccuracyModels

    public init(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], data: any Dataset) throws {
        guard let bound = plan.config.accuracy else { throw PipelineError.badOption("the calibration has no accuracy bound (--max-drop) to rank layers for") }
        probe = try AccuracyProbe(graph: plan.graph, data: data, rows: plan.validationRows, metric: bound.metric, options: plan.config.plan)
        models = try AccuracyModels(plan, build: quantizer(plan, histograms: histograms, seconds: 0))
    }

    /// The validation rows measured on.
    public var rows: Int { probe.rows }

    /// The metric with each of `candidates` alone in FP32; one that cannot be built is left out,
    /// as the search does.
    public func measure(_ candidates: [String]) throws -> [String: Double] {
        try models.alone(candidates, probe: probe)
    }
}

/// The accuracy-driven search (NNCF's accuracy control, on every node the quantize pass
/// quantizes: weighted layers, Add, Mul, Concat, pooling, tables): rank every candidate by the
/// metric with it alone returned to FP32 (here, or measured elsewhere: `ranking`), return layers
/// best first until the bound holds, then drop every returned layer the bound does not need (last
/// returned first). Thresholds come from the same histograms throughout; only the exclusions
/// change. Returns the model to write and what was done.
func controlAccuracy(_ plan: CalibrationPlan, histograms: [String: AbsHistogram], data: any Dataset, bound: AccuracyBound,
                     ranking: AccuracyRanking, build: @escaping (QuantConfig, CalibrationTable?) throws -> QuantizedModel) throws -> AccuracyControlStep {
    let validation = plan.validationRows
    let probe = try AccuracyProbe(graph: plan.graph, data: data, rows: validation, metric: bound.metric, options: plan.config.plan)
    let fp32 = probe.fp32
    func meets(_ value: Double) -> Bool { fp32 - value <= bound.maxDrop + 1e-9 }
    let models = try AccuracyModels(plan, build: build)
    let all = models.all
    func model(returning layers: [String]) throws -> QuantizedModel { try models.returning(layers) }
    let allValue = try probe.measure(all.qdq)
    var report = AccuracyControlReport(metric: probe.metric, maxDrop: bound.maxDrop, validationSamples: probe.rows, fp32: fp32,
                                       allInt8: allValue, final: allValue, returned: [], ranking: [], met: meets(allValue))
    if report.met { return .done(all, report) }
    let candidates = models.candidates
    let values: [String: Double]
    switch ranking {
    case .here: values = try models.alone(candidates, probe: probe)
    case .deferred: return .rank(candidates)
    case .measured(let measured): values = measured.filter { candidates.contains($0.key) }
    }
    let gains = values.mapValues { $0 - allValue }
    let ranked = gains.keys.sorted { gains[$0]! > gains[$1]! || (gains[$0]! == gains[$1]! && $0 < $1) }
    report.ranking = ranked.map { .init(layer: $0, gainAlone: gains[$0]!, metricAfter: allValue + gains[$0]!) }
    var chosen: [String] = [], after: [String: Double] = [:]
    var best = (model: all, value: allValue)
    for c in ranked {
        // A combination that needs a tensor nobody observed is skipped, like such a candidate.
        guard let q = try? model(returning: chosen + [c]) else { continue }
        chosen.append(c)
        let v = try probe.measure(q.qdq)
        after[c] = v
        best = (q, v)
        if meets(v) { break }
    }
    if meets(best.value) {
        // Fewest layers: each returned layer the bound holds without goes back to INT8.
        for c in chosen.reversed() where chosen.count > 1 {
            let without = chosen.filter { $0 != c }
            guard let q = try? model(returning: without) else { continue }
            let v = try probe.measure(q.qdq)
            if meets(v) { chosen = without; best = (q, v) }
        }
    }
    report.returned = chosen.map { .init(layer: $0, gainAlone: gains[$0] ?? 0, metricAfter: after[$0] ?? best.value) }
    report.final = best.value
    report.met = meets(best.value)
    return .done(best.model, report)
}
