import Foundation
import OctetCalibration
import OctetCluster
import OctetData
import OctetPipeline
import SwiftProtobuf

/// What a calibration job's `search` tasks rebuild its calibration from, published by the
/// coordinator as one blob (`CalibrationJobContext.searchInputs`): the merged histograms, and the
/// workers' chosen weights or weight analysis (their task payloads, in task order), so that every
/// worker completes the plan as the coordinator did and builds the same models.
struct CalibrationSearchInputs: Codable {
    var histograms: Data
    var weights: [Data]
    var analysis: [Data]

    /// The task payloads kept as their serialized `Compressed` messages.
    init(histograms: [UInt8], weights: [Octet_Wire_Compressed], analysis: [Octet_Wire_Compressed]) throws {
        self.histograms = Data(histograms)
        self.weights = try weights.map { try $0.serializedBytes() }
        self.analysis = try analysis.map { try $0.serializedBytes() }
    }

    /// The blob: sorted-keys JSON, LZ4-compressed.
    func encoded() throws -> [UInt8] {
        try Compression.pack([UInt8](JobOptionsEncoding.encoder.encode(self)), elementSize: 1).serializedBytes()
    }

    static func decode(_ bytes: [UInt8]) throws -> CalibrationSearchInputs {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(try Compression.unpack(try Octet_Wire_Compressed(serializedBytes: bytes))))
        } catch {
            throw JobFailure("the accuracy search's inputs cannot be read: \(error)")
        }
    }

    func payloads(_ list: [Data]) throws -> [(task: Int, payload: Octet_Wire_Compressed)] {
        try list.enumerated().map { (task: $0.offset, payload: try Octet_Wire_Compressed(serializedBytes: $0.element)) }
    }

    /// The merged histograms.
    func mergedHistograms() throws -> [String: AbsHistogram] { try HistogramSet.decode([UInt8](histograms)) }
}

/// A `search` task's result: the probe's side (metric, validation rows, FP32 value, the same on
/// every worker) and the measurement of each set of layers the task was given
/// (`AccuracySearchMeter`), doubles as bit patterns, sorted-keys JSON.
enum SearchPayload {
    struct Body: Codable {
        var metric: AccuracyMetric
        var rows: Int
        var fp32: UInt64
        var measurements: [Entry]
    }
    struct Entry: Codable { var layers: [String], value: UInt64? }

    static func encode(_ evidence: AccuracyEvidence, _ measurements: [AccuracyMeasurement]) -> [UInt8] {
        let body = Body(metric: evidence.metric, rows: evidence.rows, fp32: evidence.fp32.bitPattern,
                        measurements: measurements.map { Entry(layers: $0.layers, value: $0.value?.bitPattern) })
        return (try? [UInt8](JobOptionsEncoding.encoder.encode(body))) ?? []
    }

    /// The probe's side and the measurements in `bytes`: each of a set the task was given (`sets`;
    /// nil: a result already accepted), its value a finite number or none (the model cannot be built).
    static func decode(_ bytes: [UInt8], sets: [[String]]?) throws(JobFailure) -> (AccuracyEvidence, [AccuracyMeasurement]) {
        let body: Body
        do { body = try JSONDecoder().decode(Body.self, from: Data(bytes)) } catch {
            throw JobFailure("the accuracy search's measurements cannot be read: \(error)")
        }
        let fp32 = Double(bitPattern: body.fp32)
        guard fp32.isFinite, body.rows > 0 else { throw JobFailure("the accuracy search's FP32 side is not a finite metric on some rows") }
        let given = sets.map { Set($0.map { $0.sorted() }) }
        var out: [AccuracyMeasurement] = []
        for e in body.measurements {
            guard given?.contains(e.layers.sorted()) ?? true else { throw JobFailure("a measurement of layers \(e.layers), which the task was not given") }
            let value = e.value.map(Double.init(bitPattern:))
            if let value, !value.isFinite { throw JobFailure("the measurement of layers \(e.layers) is not a finite number") }
            out.append(AccuracyMeasurement(layers: e.layers, value: value))
        }
        // Every set given, once: a batch the search would have to ask for again never ends.
        if let given, Set(out.map(\.layers)) != given || out.count != given.count {
            throw JobFailure("measurements of \(out.count) sets of layers, the task was given \(given.count) different ones")
        }
        return (AccuracyEvidence(metric: body.metric, rows: body.rows, fp32: fp32), out)
    }
}

extension CalibrationPlan {
    /// The plan completed with what its job's workers measured: the chosen weights of its
    /// `weights` tasks (then the analysis, run here with them), or the weight-effect sums of its
    /// `analysis` tasks; as is when neither is pending. The coordinator completes a job's plan
    /// so, and each `search` task again, from the same payloads.
    func completed(weights: [(task: Int, payload: Octet_Wire_Compressed)], analysis: [(task: Int, payload: Octet_Wire_Compressed)],
                   shapes: [String: ChosenWeightsPayload.Shape], data: any Dataset) throws -> CalibrationPlan {
        if weightChoicePending {
            var scales: [String: [Float]] = [:], rounding: [String: [Bool]] = [:]
            for (task, payload) in weights {
                do {
                    let chosen = try ChosenWeightsPayload.decode(try Compression.unpack(payload), shapes: shapes)
                    scales.merge(chosen.scales) { first, _ in first }
                    rounding.merge(chosen.rounding) { first, _ in first }
                } catch {
                    throw JobFailure("the chosen weights of task \(task) cannot be read: \(error)")
                }
            }
            return try completed(withScales: scales, rounding: rounding, data: data)
        }
        guard !analysisRows.isEmpty else { return self }
        var samples: [WeightEffectSample] = []
        for (task, payload) in analysis {
            do { samples += try WeightEffectSample.decode(try Compression.unpack(payload)) } catch {
                throw JobFailure("the weight-effect sums of task \(task) cannot be read: \(error)")
            }
        }
        guard samples.map(\.sample).sorted() == Array(analysisRows) else {
            throw JobFailure("the weight-effect sums cover samples \(samples.map(\.sample).sorted()), expected \(analysisRows)")
        }
        return completed(with: WeightEffects(samples))
    }
}

/// How a batch of the accuracy search's sets is split into `search` tasks: at most this many
/// tasks of consecutive sets (each set costs one INT8 pass over the validation rows).
enum AccuracySearchTasks {
    static let tasks = 8

    static func split(_ sets: [[String]]) -> [[[String]]] {
        guard !sets.isEmpty else { return [] }
        let count = min(tasks, sets.count)
        return (0..<count).map { g in Array(sets[(g * sets.count / count)..<((g + 1) * sets.count / count)]) }
    }
}
