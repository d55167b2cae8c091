import Dispatch
import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetRuntime

/// FP32 vs INT8 of one model output over every sample.
public struct OutputComparison: Codable, Sendable, Equatable {
    public var name: String
    /// The output's dims for one image.
    public var shape: [Int]
    /// 10·log10(Σ fp32² / Σ (fp32 − int8)²) over every element (200 when they are equal).
    public var sqnrDB: Double
    /// Σ fp32·int8 / √(Σ fp32² · Σ int8²) (1 when both are zero).
    public var cosine: Double
    /// The largest |fp32 − int8| of any element.
    public var maxAbsError: Double

    enum CodingKeys: String, CodingKey {
        case name, shape, cosine
        case sqnrDB = "sqnr_db", maxAbsError = "max_abs_error"
    }
}

/// Running sums of one output's FP32-vs-INT8 error (Double, in sample order).
struct ErrorSums {
    var signal = 0.0, noise = 0.0, dot = 0.0, int8Energy = 0.0, maxAbs = 0.0

    mutating func add<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) {
        for (x, y) in zip(a, b) {
            let (dx, dy) = (Double(x), Double(y))
            signal += dx * dx; noise += (dx - dy) * (dx - dy)
            dot += dx * dy; int8Energy += dy * dy
            // A NaN on either side is the largest error there is.
            let e = abs(dx - dy)
            maxAbs = e.isNaN ? .nan : (maxAbs.isNaN ? maxAbs : max(maxAbs, e))
        }
    }

    mutating func add(_ other: ErrorSums) {
        signal += other.signal; noise += other.noise; dot += other.dot; int8Energy += other.int8Energy
        maxAbs = maxAbs.isNaN || other.maxAbs.isNaN ? .nan : max(maxAbs, other.maxAbs)
    }

    /// The sums' bit patterns, for exact transport (`ReportSampleSums`).
    var bits: [UInt64] { [signal, noise, dot, int8Energy, maxAbs].map(\.bitPattern) }
    static let fieldCount = 5

    init() {}

    /// From `bits` (missing fields are zero).
    init(bits: [UInt64]) {
        func field(_ i: Int) -> Double { i < bits.count ? Double(bitPattern: bits[i]) : 0 }
        (signal, noise, dot, int8Energy, maxAbs) = (field(0), field(1), field(2), field(3), field(4))
    }

    var sqnrDB: Double { noise == 0 ? 200 : 10 * log10(signal / noise) }
    var cosine: Double { signal == 0 && int8Energy == 0 ? 1 : dot / max((signal * int8Energy).squareRoot(), .leastNormalMagnitude) }
}

/// FP32 vs INT8 on the same samples: every output compared numerically; accuracy of each and
/// top-1 agreement where the model is a classifier (one output `[N, classes]`).
public struct EvalReport: Codable, Sendable {
    public var images: Int
    public var labeled: Int
    public var fp32Top1: Double?
    public var int8Top1: Double?
    /// Fraction of samples whose INT8 top-1 class equals the FP32 one (classifiers only).
    public var agreement: Double?
    /// The classifier output top-1 is read from, if the model has one.
    public var classifierOutput: String?
    /// SQNR, cosine and max |Δ| of the classifier output (the logits), or of all outputs together.
    public var sqnrDB: Double
    public var cosine: Double
    public var maxAbsError: Double
    /// Each output compared, in the model's output order.
    public var outputs: [OutputComparison]
    public var int8ImagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case images, labeled, agreement, outputs
        case fp32Top1 = "fp32_top1", int8Top1 = "int8_top1", sqnrDB = "sqnr_db", int8ImagesPerSecond = "int8_images_per_second"
        case cosine, maxAbsError = "max_abs_error", classifierOutput = "classifier_output"
    }
}

/// Runs both models over `data` in batches.
public func evaluate(fp32: Graph, int8: Graph, data: any Dataset, batch: Int, options: PlanOptions,
                     progress: ProgressHandler? = nil) throws -> EvalReport {
    try evaluateWithLogits(fp32: fp32, int8: int8, data: data, batch: batch, options: options, progress: progress).report
}

/// `evaluate`, also returning the INT8 logits of every sample in order (the classifier output;
/// empty for other models), writing every INT8 output to `saveOutputs` and every input the models
/// ran on to `saveInputs` when given.
public func evaluateWithLogits(fp32: Graph, int8: Graph, data: any Dataset, batch: Int, options: PlanOptions,
                               saveOutputs: NPZWriter? = nil, saveInputs: NPZWriter? = nil, progress: ProgressHandler? = nil) throws -> (report: EvalReport, int8Logits: [Float]) {
    let reference = try ModelRun(graph: try ModelLoader.optimize(fp32), options: options)
    let plan = try ModelRun(graph: int8, options: options)
    let names = reference.outputNames
    guard Set(plan.inputs.map(\.name)) == Set(reference.inputs.map(\.name)) else {
        throw PipelineError.badOption("the INT8 model's inputs \(plan.inputs.map(\.name).joined(separator: ", ")) differ from the FP32 model's \(reference.inputs.map(\.name).joined(separator: ", "))")
    }
    let missing = names.filter { !plan.outputNames.contains($0) }
    guard missing.isEmpty else {
        throw PipelineError.badOption("the INT8 model lacks output(s) \(missing.joined(separator: ", ")) of the FP32 model (it has \(plan.outputNames.joined(separator: ", ")))")
    }
    var sums = [String: ErrorSums](), shapes = [String: [Int]]()
    var classifier: String? = nil
    var allLogits: [Float] = []
    var agree = 0, fp32Correct = 0, int8Correct = 0, labeled = 0, int8Seconds = 0.0
    var start = 0
    while start < data.count {
        let range = start..<min(start + batch, data.count)
        for (images, input) in try reference.inputBatches(data, range) {
            let n = images.count
            for (name, t) in input.sorted(by: { $0.key < $1.key }) {
                try saveInputs?.append(name, rowDims: Array(t.shape.dims.dropFirst()), rows: n, values: t.floats ?? [])
            }
            let a = try reference.run(input)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let b = try plan.run(input)
            int8Seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            for name in names {
                guard let x = a[name]?.floats, let y = b[name]?.floats, let t = a[name] else { continue }
                guard x.count == y.count else {
                    throw PipelineError.badOption("output '\(name)': FP32 gives \(a[name]?.shape.description ?? "?"), INT8 \(b[name]?.shape.description ?? "?")")
                }
                sums[name, default: ErrorSums()].add(x, y)
                shapes[name] = ModelRun.perImageDims(t, images: n)
                try saveOutputs?.append(name, rowDims: shapes[name] ?? [], rows: n, values: y)
            }
            classifier = ModelRun.classifierOutput(a, names: names, images: n)
            guard let classifier, let logits = a[classifier]?.floats, let q = b[classifier]?.floats else { continue }
            allLogits += q
            let classes = logits.count / n
            for (k, i) in images.enumerated() {
                let rows = (k * classes)..<((k + 1) * classes)
                let ta = TopK.indices(logits[rows], k: 1).first, tb = TopK.indices(q[rows], k: 1).first
                if ta == tb { agree += 1 }
                if let label = data.label(i) {
                    labeled += 1
                    if ta == label { fp32Correct += 1 }
                    if tb == label { int8Correct += 1 }
                }
            }
        }
        start = range.upperBound
        progress?(start, data.count)
    }
    try saveOutputs?.finish()
    try saveInputs?.finish()
    let outputs = names.compactMap { name in
        sums[name].map { OutputComparison(name: name, shape: shapes[name] ?? [], sqnrDB: $0.sqnrDB, cosine: $0.cosine, maxAbsError: $0.maxAbs) }
    }
    var overall = ErrorSums()
    if let classifier, let s = sums[classifier] { overall = s } else { for s in sums.values { overall.add(s) } }
    let report = EvalReport(images: data.count, labeled: labeled,
                            fp32Top1: classifier != nil && labeled > 0 ? Double(fp32Correct) / Double(labeled) : nil,
                            int8Top1: classifier != nil && labeled > 0 ? Double(int8Correct) / Double(labeled) : nil,
                            agreement: classifier != nil ? Double(agree) / Double(max(data.count, 1)) : nil,
                            classifierOutput: classifier,
                            sqnrDB: overall.sqnrDB, cosine: overall.cosine, maxAbsError: overall.maxAbs, outputs: outputs,
                            int8ImagesPerSecond: Double(data.count) / max(int8Seconds, 1e-9))
    return (report, allLogits)
}

/// Per quantized tensor: SQNR of the INT8 model's value against the FP32 model's, over the first
/// `samples` rows (errors accumulate through the network, unlike the per-tensor histogram
/// estimate): `ReportMeasurements` for the tensors of `q`'s table.
public func perLayerSQNR(_ q: QuantizedModel, data: any Dataset, samples: Int, options: PlanOptions) throws -> [String: Double] {
    try ReportMeasurements.measure(fp32: q.fp32, qdq: q.qdq, data: data, samples: samples, options: options).perTensorSQNR(of: q.table)
}
