/// A worker as the coordinator sees it.
public struct WorkerRecord: Sendable, Hashable {
    public enum State: String, Sendable, Codable { case idle, busy, lost }

    public var id: String
    public var peer: PeerID
    public var host: String
    public var cores: Int
    public var threads: Int
    public var isa: String
    public var isas: [String]
    public var version: String
    public var state: State = .idle
    /// Coordinator clock time of the last message from it.
    public var lastSeen: Double
    /// The task it holds (job, index).
    public var task: TaskKey?
    public var imagesPerSecond: Double = 0
    public var tasksDone = 0
}

/// A task's identity: results are idempotent by this key.
public struct TaskKey: Hashable, Sendable, Codable {
    public var job: String
    public var index: Int

    public init(job: String, index: Int) {
        self.job = job
        self.index = index
    }
}
