/// Coordinator configuration: liveness, limits and the job defaults.
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
    /// FP32 kernel path pinned for calibration jobs that do not name one.
    public var defaultISA: String
    /// Threads the coordinator's own passes use (preparation, finalization).
    public var threads: Int

    public init(defaultISA: String, threads: Int) {
        self.defaultISA = defaultISA
        self.threads = threads
    }
}
