/// Coordinator configuration: liveness, limits and flow control (job kinds bring their own,
/// in their handlers).
public struct CoordinatorSettings: Sendable {
    /// How often workers heartbeat (sent to them in `Welcome`).
    public var heartbeatInterval: Double = 1
    /// A worker silent this long is lost; its task goes back to the queue.
    public var heartbeatTimeout: Double = 5
    /// Largest message accepted (ZMQ_MAXMSGSIZE and the decoder's limit).
    public var maxMessageBytes = WireProtocol.defaultMaxMessageBytes
    /// Largest blob (model, image, artifact) accepted by upload.
    public var maxBlobBytes: UInt64 = 4 << 30
    /// A task failing, or losing its worker, this many times fails its job (a poison task must
    /// not loop forever).
    public var maxTaskAttempts = 5
    /// An assigned task without a result this long goes back to the queue, and its worker is
    /// taken as idle: the assignment or the result was lost (a message dropped on a reconnect),
    /// or the worker is stuck. A slow worker's late result is still accepted if it comes first.
    public var taskTimeout: Double = 600
    /// Inference tasks dispatched beyond the last one a client has committed (`ResultsQuery`):
    /// a slow client or disk holds the job back instead of results piling up on the coordinator.
    public var outputWindow = 256
    /// A deliberately wrong rule, for the deterministic simulator's own test that its invariants
    /// catch a real bug (FoundationDB's BUGGIFY in spirit). Nil everywhere else.
    public var simulatedBug: SimulatedBug? = nil

    public init() {}
}

/// Bugs the cluster simulator must catch (`CoordinatorSettings.simulatedBug`).
public enum SimulatedBug: Sendable {
    /// A result for a task already done is accepted again instead of ignored.
    case acceptDuplicateResults
}
