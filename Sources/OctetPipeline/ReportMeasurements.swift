import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetRuntime

/// One sample's share of what the calibration report measures: per quantized tensor, Σx² and
/// Σ(x − y)² of the FP32 value x against the INT8 model's y (finite x only); and the model's
/// output against FP32 for the INT8 model, its weights alone and its activations alone
/// (`QuantizationDiagnosis`). Samples are measured one by one and summed in sample order
/// (`ReportMeasurements`), so the report is the same bytes whether one process measured every
/// sample or cluster workers measured them in any split. Doubles travel as bit patterns: exact,
/// NaN and ±∞ included.
public struct ReportSampleSums: Codable, Sendable, Equatable {
    /// Sample (row) index.
    public var sample: Int
    /// Per tensor: the bit patterns of [Σx², Σ(x − y)²].
    public var tensors: [String: [UInt64]]
    /// `ErrorSums` of the INT8, weights-only and activations-only models' outputs, as bit patterns.
    public var outputs: [[UInt64]]

    public init(sample: Int, tensors: [String: [UInt64]], outputs: [[UInt64]]) {
        self.sample = sample
        self.tensors = tensors
        self.outputs = outputs
    }

    /// The JSON form a cluster worker sends for its task's samples.
    public static func encode(_ sums: [ReportSampleSums]) throws -> [UInt8] { Array(try JSONEncoder().encode(sums)) }

    /// Parses a worker's JSON form, checking every sample's shape.
    public static func decode(_ bytes: [UInt8]) throws -> [ReportSampleSums] {
        let all = try JSONDecoder().decode([ReportSampleSums].self, from: Data(bytes))
        for s in all where !(s.tensors.values.allSatisfy { $0.count == 2 } && s.outputs.count == 3
                             && s.outputs.allSatisfy { $0.count == ErrorSums.fieldCount }) {
            throw PipelineError.badOption("the report sums of sample \(s.sample) are malformed")
        }
        return all
    }
}

/// Measures `ReportSampleSums` of one calibrated model, sample by sample: the FP32 model with
/// every tensor captured, the INT8 model with every quantized tensor dequantized, and the three
/// diagnosis variants. Compiled once per model (plans per input shape are cached).
public final class ReportMeter: @unchecked Sendable {
    /// The FP32 model, unfused so every tensor is observed; its outputs are also the diagnosis's reference.
    let capture: ModelRun
    let qdq: Graph
    let variants: [ModelRun]
    private var int8Plans: [[String: Shape]: Int8Plan] = [:]
    private let lock = NSLock()

    /// `fp32`: the graph the calibration observed (`QuantizedModel.fp32`); `qdq`: the INT8 model
    /// as written and read back (`ModelLoader.loadQDQ`), the one users get.
    public init(fp32: Graph, qdq: Graph, options: PlanOptions) throws {
        var unfused = options
        unfused.fuse = false
        unfused.threads = 1
        capture = try ModelRun(graph: fp32, options: unfused)
        self.qdq = qdq
        variants = try [qdq, weightsOnlyModel(qdq: qdq), activationsOnlyModel(qdq: qdq, fp32: fp32)].map {
            try ModelRun(graph: $0, options: options)
        }
    }

    /// The sums of row `i` of `data`.
    public func measure(_ data: any Dataset, sample i: Int) throws -> ReportSampleSums {
        var out = ReportSampleSums(sample: i, tensors: [:], outputs: [])
        guard let (_, input) = try capture.inputBatches(data, i..<(i + 1)).first else {
            out.outputs = Array(repeating: ErrorSums().bits, count: 3)
            return out
        }
        let values = TensorCapture()
        let expected = try capture.run(input, observer: values)
        let shapes = input.mapValues(\.shape)
        lock.lock()
        let cached = int8Plans[shapes]
        lock.unlock()
        // Every quantized tensor kept (no residual Add fused away), on the plan for this sample's shapes.
        let int8 = try cached ?? Int8Plan(graph: qdq, fuseIntoConvolutions: false, inputShapes: shapes)
        if cached == nil { lock.lock(); int8Plans[shapes] = int8; lock.unlock() }
        let quantized = try int8.dequantizedIntermediates(input)
        for (name, b) in quantized where name.hasSuffix("_quantized") {
            let tensor = String(name.dropLast("_quantized".count))
            guard let a = values.values[tensor], a.count == b.count else { continue }
            var s = 0.0, n = 0.0, counted = false
            for (x, y) in zip(a, b) where x.isFinite {
                s += Double(x) * Double(x)
                n += Double(x - y) * Double(x - y)
                counted = true
            }
            if counted { out.tensors[tensor] = [s.bitPattern, n.bitPattern] }
        }
        let classifier = ModelRun.classifierOutput(expected, names: capture.outputNames, images: 1)
        let compared = classifier.map { [$0] } ?? capture.outputNames
        for run in variants {
            let got = try run.run(input)
            var sums = ErrorSums()
            for name in compared {
                guard let a = expected[name]?.floats, let b = got[name]?.floats, a.count == b.count else { continue }
                sums.add(a, b)
            }
            out.outputs.append(sums.bits)
        }
        return out
    }
}

/// The report's measurements over samples 0..<n: per quantized tensor its SQNR (dB) of INT8
/// against FP32, and the diagnosis, from every sample's `ReportSampleSums` added in sample order.
public struct ReportMeasurements: Sendable {
    /// Per tensor: SQNR (dB) of the INT8 value against FP32 over the samples.
    public var perTensorSQNR: [String: Double] = [:]
    /// Weights-only vs activations-only INT8 (nil without samples).
    public var diagnosis: QuantizationDiagnosis?
    /// Samples measured.
    public var samples: Int { diagnosis?.samples ?? 0 }

    /// The per-tensor SQNR of the tensors `table` quantizes (the report's rows).
    public func perTensorSQNR(of table: CalibrationTable) -> [String: Double] {
        let tensors = Set(table.entries.map(\.tensor))
        return perTensorSQNR.filter { tensors.contains($0.key) }
    }

    /// Sums `sums` (one per sample; sorted here by sample, so any split or arrival order gives
    /// the same result).
    public init(_ sums: [ReportSampleSums]) {
        let ordered = sums.sorted { $0.sample < $1.sample }
        var signal: [String: Double] = [:], noise: [String: Double] = [:]
        var outputs = [ErrorSums](repeating: ErrorSums(), count: 3)
        for s in ordered {
            for (t, pair) in s.tensors.sorted(by: { $0.key < $1.key }) {
                signal[t, default: 0] += Double(bitPattern: pair[0])
                noise[t, default: 0] += Double(bitPattern: pair[1])
            }
            for (k, bits) in s.outputs.prefix(3).enumerated() { outputs[k].add(ErrorSums(bits: bits)) }
        }
        for (t, s) in signal {
            let n = noise[t] ?? 0
            perTensorSQNR[t] = n == 0 ? 200 : (s == 0 ? 0 : 10 * log10(s / n))
        }
        diagnosis = ordered.isEmpty ? nil : QuantizationDiagnosis(samples: ordered.count, int8DB: outputs[0].sqnrDB,
                                                                  weightsOnlyDB: outputs[1].sqnrDB, activationsOnlyDB: outputs[2].sqnrDB)
    }

    /// Measures rows 0..<samples of `data` in this process.
    public static func measure(fp32: Graph, qdq: Graph, data: any Dataset, samples: Int, options: PlanOptions) throws -> ReportMeasurements {
        let rows = 0..<min(max(samples, 0), data.count)
        guard !rows.isEmpty else { return ReportMeasurements([]) }
        let meter = try ReportMeter(fp32: fp32, qdq: qdq, options: options)
        return ReportMeasurements(try rows.map { try meter.measure(data, sample: $0) })
    }
}
