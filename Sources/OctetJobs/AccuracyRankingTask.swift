import Foundation
import OctetCalibration
import OctetCluster
import OctetData
import OctetPipeline
import SwiftProtobuf

/// What a calibration job's `ranking` tasks rebuild its calibration from, published by the
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

/// A `ranking` task's result: the accuracy metric with each layer of its group alone returned to
/// FP32 (`measureCandidatesAlone`), as the bit patterns of the doubles, sorted-keys JSON.
enum RankingPayload {
    static func encode(_ values: [String: Double]) -> [UInt8] {
        (try? [UInt8](JobOptionsEncoding.encoder.encode(values.mapValues(\.bitPattern)))) ?? []
    }

    /// The values in `bytes`, each a layer of `group` and a finite number.
    static func decode(_ bytes: [UInt8], group: [String]) throws(JobFailure) -> [String: Double] {
        let bits: [String: UInt64]
        do { bits = try JSONDecoder().decode([String: UInt64].self, from: Data(bytes)) } catch {
            throw JobFailure("the ranking values cannot be read: \(error)")
        }
        let allowed = Set(group)
        var values: [String: Double] = [:]
        for (name, b) in bits {
            guard allowed.contains(name) else { throw JobFailure("a ranking value of \(name), which is not in the task's group") }
            let v = Double(bitPattern: b)
            guard v.isFinite else { throw JobFailure("the ranking value of \(name) is not a finite number") }
            values[name] = v
        }
        return values
    }
}

extension CalibrationPlan {
    /// The plan completed with what its job's workers measured: the chosen weights of its
    /// `weights` tasks (then the analysis, run here with them), or the weight-effect sums of its
    /// `analysis` tasks; as is when neither is pending. The coordinator completes a job's plan
    /// so, and each `ranking` task again, from the same payloads.
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

/// How the accuracy search's candidates are split into `ranking` tasks: at most this many groups
/// of consecutive candidates (each costs one INT8 pass over the validation rows).
enum AccuracyRankingGroups {
    static let tasks = 8

    static func split(_ candidates: [String]) -> [[String]] {
        guard !candidates.isEmpty else { return [] }
        let count = min(tasks, candidates.count)
        return (0..<count).map { g in Array(candidates[(g * candidates.count / count)..<((g + 1) * candidates.count / count)]) }
    }
}
