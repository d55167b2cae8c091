import Foundation

/// A job as the coordinator tracks and stores it.
public struct JobRecord: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable {
        /// Its handler plans its tasks (calibration: reads the model and data, chooses shards).
        case preparing
        /// Tasks (calibration shards, inference batches) running on workers.
        case running
        /// Its handler finishes it from its tasks' results (calibration: merges histograms,
        /// searches thresholds, quantizes, writes artifacts), or plans follow-up tasks.
        case finalizing
        /// Follow-up tasks running on workers (calibration: the INT8 model measured for the
        /// report and checked on held-out samples); then the job is finalized again.
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
    /// The job's state as its handler keeps it (calibration: the kernel path pinned for the job,
    /// the tensors every shard histograms, the INT8 model once quantized), carried to workers
    /// with every task; opaque to the cluster.
    public var context = Data()
    /// A kernel path a worker must list (`Hello.isas`) to take this job's tasks, or nil.
    public var requirement: String?
    /// Whether a client streams this job's results in task order (`JobHandler.streamsResults`).
    public var streamsResults = false

    public init(id: String, spec: JobSpec, state: State, created: Double) {
        self.id = id
        self.spec = spec
        self.state = state
        self.created = created
    }

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

/// One unit of work of a job over samples [start, end), of a kind its handler names (a
/// calibration shard, a report or verification batch, an inference batch). Identified by
/// (job, index): results are idempotent by that key.
public struct TaskRecord: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable { case pending, assigned, done }

    public var job: String
    public var index: Int
    /// The handler's name for the kind of task.
    public var kind: String
    public var start: Int
    public var end: Int
    /// The blobs the task reads besides the job's model (shipped samples, a model made by the
    /// job), fetched by the worker first.
    public var blobs: [String]
    public var state: State = .pending
    public var attempts: Int = 0
    /// The worker holding it (assigned) or that finished it (done).
    public var worker: String?

    public init(job: String, index: Int, kind: String, start: Int, end: Int, blobs: [String] = []) {
        self.job = job
        self.index = index
        self.kind = kind
        self.start = start
        self.end = end
        self.blobs = blobs
    }

    public var count: Int { end - start }
}
