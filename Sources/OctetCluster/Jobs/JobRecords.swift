import Foundation

/// A job as the coordinator tracks and stores it.
public struct JobRecord: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable {
        /// Reading the model and data, choosing shards (calibration: the sensitivity analysis).
        case preparing
        /// Tasks (calibration shards, inference batches) running on workers.
        case running
        /// Merging histograms, searching thresholds, quantizing, writing artifacts.
        case finalizing
        /// The INT8 model is measured on the workers: the report's per-layer SQNR on the first
        /// samples, and its agreement with FP32 on held-out samples.
        case verifying
        case done
        case failed

        public var isFinished: Bool { self == .done || self == .failed }
    }

    public var id: String
    public var spec: JobSpec
    public var state: State
    public var error: String?
    public var created: Double
    public var finished: Double?
    /// Result summary JSON (calibration: agreement; inference: throughput).
    public var summary: String?
    public var artifacts: [Artifact] = []
    /// Calibration: the INT8 model blob, once quantized.
    public var int8Hash: String?
    /// Calibration: the tensors every shard histograms.
    public var watched: [String] = []
    /// Calibration: the FP32 kernel path pinned for the job.
    public var isa: String?

    public struct Artifact: Codable, Hashable, Sendable {
        public var name: String
        public var hash: String
        public var size: UInt64

        public init(name: String, hash: String, size: UInt64) {
            self.name = name
            self.hash = hash
            self.size = size
        }
    }
}

/// One unit of work of a job: a calibration shard, a report or verification batch or an inference batch,
/// over samples [start, end). Identified by (job, index): results are idempotent by that key.
public struct TaskRecord: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable { case pending, assigned, done }
    public enum Kind: String, Codable, Sendable {
        /// A calibration's weight-quantization analysis (`WeightEffectSample`s); its histogram
        /// shard; the report's measurement of the INT8 model (`ReportSampleSums`); the INT8
        /// model's check on held-out samples; an inference batch.
        case analysis, calibration, report, verification, inference

        var wire: Octet_Wire_TaskKind {
            switch self {
            case .analysis: .calibrationAnalysis
            case .calibration: .calibrationShard
            case .report: .calibrationReport
            case .verification: .verification
            case .inference: .inference
            }
        }
    }

    public var job: String
    public var index: Int
    public var kind: Kind
    public var start: Int
    public var end: Int
    public var state: State = .pending
    public var attempts: Int = 0
    /// The worker holding it (assigned) or that finished it (done).
    public var worker: String?

    public init(job: String, index: Int, kind: Kind, start: Int, end: Int) {
        self.job = job
        self.index = index
        self.kind = kind
        self.start = start
        self.end = end
    }

    public var count: Int { end - start }
}
