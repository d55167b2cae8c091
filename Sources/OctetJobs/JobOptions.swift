import Foundation
import OctetCluster
import OctetPipeline
import SwiftProtobuf

/// A job handler's options: what a user asks of one kind of job beyond the cluster's part of
/// the spec. They travel inside `JobSpec.options` as their protobuf message of octet_jobs.proto
/// (opaque to the cluster; no maps, so a spec built twice from the same options has the same
/// bytes), converted in `JobOptions+Wire`.
public protocol JobOptions: Hashable, Sendable {
    associatedtype Wire: SwiftProtobuf.Message
    /// The handler's name (`JobSpec.kind`).
    static var kind: String { get }
    /// The samples the job reads.
    var dataset: DatasetSpec { get }
    /// Why these options cannot run, or nil.
    var problem: String? { get }
    /// The options as their message.
    var wire: Wire { get }
    /// The options `wire` describes, or why they cannot be read.
    init(wire: Wire) throws(JobFailure)
}

extension JobOptions {
    /// The job spec that runs these options on the model `modelHash`; the shipped files'
    /// manifest is the job's blob, so the coordinator checks it was uploaded (and the handler,
    /// every file it lists).
    public func spec(modelHash: String, modelName: String) -> JobSpec {
        // Serializing a message built in memory cannot fail (no required fields, no Any).
        JobSpec(kind: Self.kind, modelHash: modelHash, modelName: modelName, blobs: dataset.manifest.map { [$0] } ?? [],
                options: (try? wire.serializedData()) ?? Data())
    }

    /// The options of `spec`, which must be a job of this kind.
    public init(_ spec: JobSpec) throws(JobFailure) {
        try self.init(kind: spec.kind, options: spec.options)
    }

    /// The options a task's assignment carries.
    public init(_ a: Octet_Wire_TaskAssignment) throws(JobFailure) {
        try self.init(kind: a.spec.kind, options: a.spec.options)
    }

    init(kind: String, options: Data) throws(JobFailure) {
        guard kind == Self.kind else { throw JobFailure("a '\(kind)' job is not a '\(Self.kind)' job") }
        let message: Wire
        do { message = try Wire(serializedBytes: options) } catch {
            // Octet before wire protocol 5 wrote its options as a JSON object.
            let earlier = options.first == UInt8(ascii: "{") && options.last == UInt8(ascii: "}")
                ? " (they are JSON, as an Octet before protocol version 5 wrote them: submit the job again)" : ""
            throw JobFailure("the options of a '\(Self.kind)' job cannot be read\(earlier): \(error)")
        }
        do throws(JobFailure) { try self.init(wire: message) } catch {
            throw JobFailure("the options of a '\(Self.kind)' job cannot be read: \(error.message)")
        }
    }
}

/// One sorted-keys JSON encoder for the handlers' own payloads and contexts.
enum JobOptionsEncoding {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

/// What a user asks of a calibration job.
public struct CalibrationJobOptions: JobOptions {
    public static let kind = "calibrate"
    public var dataset: DatasetSpec
    /// The calibration's configuration (its `plan` is set by each machine: the job's pinned path).
    public var calibration: QuantConfig
    /// Samples per calibration shard.
    public var shardSize = 32
    /// Held-out samples the INT8 model is checked on after calibration.
    public var verifySamples = 32
    /// FP32 kernel path every worker uses for calibration (sums in one order everywhere); nil
    /// lets the coordinator choose its best.
    public var isa: String?

    public init(dataset: DatasetSpec, calibration: QuantConfig) {
        self.dataset = dataset
        self.calibration = calibration
    }

    public var problem: String? {
        if shardSize < 1 || shardSize > 100_000 { return "shard size must be in 1...100000" }
        if verifySamples < 0 || verifySamples > 1_000_000 { return "verify samples must be in 0...1000000" }
        return calibration.problem ?? dataset.problem
    }
}

/// What a user asks of an inference job.
public struct InferenceJobOptions: JobOptions {
    public static let kind = "infer"
    /// What each sample returns: a classifier's top-5 classes and scores, or every output
    /// tensor (detectors, OCR, embeddings).
    public enum Outputs: String, Codable, Sendable { case topk, tensors }

    public var dataset: DatasetSpec
    /// Images per task (batch).
    public var batch = 16
    public var outputs = Outputs.topk

    public init(dataset: DatasetSpec) {
        self.dataset = dataset
    }

    public var problem: String? {
        if batch < 1 || batch > 4096 { return "batch must be in 1...4096" }
        return dataset.problem
    }

    /// Images per task for a model whose per-image input is `chw` (nil: its size varies): about
    /// the input pixels of 32 images of 224×224 (where EfficientNet-Lite0 runs at full speed on
    /// a worker), at least 1 and at most 64, so a task takes about as long whatever the input
    /// size and a detector's outputs stay well inside a message; 4 when sizes vary.
    public static func defaultBatch(inputCHW chw: [Int]?) -> Int {
        guard let chw, chw.count == 3, chw[1] > 0, chw[2] > 0 else { return 4 }
        return min(64, max(1, 32 * 224 * 224 / (chw[1] * chw[2])))
    }
}
