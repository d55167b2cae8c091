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
    /// How many tasks it holds at once (its Hello's credit): it prepares the next while one computes.
    public var credit = 1
    /// The tasks it holds, in the order assigned (busy while any).
    public var tasks: [TaskKey] = []
    /// The first task it holds.
    public var task: TaskKey? { tasks.first }
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
