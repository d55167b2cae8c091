import Foundation
import Logging

/// Inputs of a worker's state machine.
public enum WorkerEvent: Sendable {
    case message([UInt8])
    case tick
    /// The current task finished computing.
    case computed(Result<Octet_Wire_TaskResult, TaskError>)
    /// SIGTERM: finish (or hand back) the current task, say goodbye.
    case stop
}

/// Outputs of a worker's state machine.
public enum WorkerAction: Sendable {
    case send([UInt8])
    /// Run the task in the background, then feed `.computed`.
    case compute(Octet_Wire_TaskAssignment)
    /// Everything is handed back or finished: the process may exit.
    case exit
    /// The worker cannot go on (the coordinator speaks another protocol version).
    case fail(String)
}

/// Why a task could not be computed.
public struct TaskError: Error, Sendable {
    public var message: String
    public var permanent: Bool
    public init(message: String, permanent: Bool) { self.message = message; self.permanent = permanent }
}

/// A worker's state machine: joining (Hello until Welcome), heartbeats, a queue of assigned tasks,
/// fetching the blobs a task needs into the local cache chunk by chunk, one task computing at a
/// time, and a clean goodbye.
public final class WorkerCore {
    public let hello: Octet_Wire_Hello
    let cache: BlobStore
    let now: () -> Double
    let logger: Logger

    public private(set) var joined = false
    var heartbeatInterval = 1.0
    var lastHello = -Double.infinity
    var lastHeartbeat = -Double.infinity
    var queue: [Octet_Wire_TaskAssignment] = []
    /// The task being fetched or computed.
    public private(set) var current: Octet_Wire_TaskAssignment?
    var missing: [String] = []
    /// The offset of the chunk last requested of `missing.first`, and when.
    var fetchOffset: UInt64 = 0
    var lastFetch = -Double.infinity
    /// A blob request unanswered this long is sent again (the request or its chunk was lost).
    public static let fetchRetrySeconds = 5.0
    var computing = false
    /// Whether a task is computing (its result will come as `.computed`).
    public var isComputing: Bool { computing }
    var stopping = false
    var imagesPerSecond = 0.0
    var requestCounter: UInt64 = 0
    public private(set) var tasksDone = 0

    /// The largest blob (model, image) this worker accepts from the coordinator.
    public let maxBlobBytes: UInt64
    /// Assignments queued beyond this are handed back at once (the coordinator sends one per idle
    /// worker, so only a faulty or hostile peer exceeds it).
    public static let maxQueuedAssignments = 16

    public init(hello: Octet_Wire_Hello, cache: BlobStore, maxBlobBytes: UInt64 = 4 << 30, logger: Logger = Logger(label: "octet.worker"),
                now: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.hello = hello
        self.cache = cache
        self.maxBlobBytes = maxBlobBytes
        self.logger = logger
        self.now = now
    }

    public func handle(_ event: WorkerEvent) -> [WorkerAction] {
        switch event {
        case .tick: return tick()
        case .message(let bytes): return receive(bytes)
        case .computed(let result): return computed(result)
        case .stop:
            stopping = true
            queue.removeAll()
            if computing { return [] }  // finish the task; `.computed` says goodbye
            var actions: [WorkerAction] = []
            if let c = current { actions.append(.send(failure(c, "worker stopping", permanent: false))) }
            current = nil
            return actions + goodbye()
        }
    }

    func tick() -> [WorkerAction] {
        let t = now()
        if current != nil, !computing, let hash = missing.first, t - lastFetch >= Self.fetchRetrySeconds {
            return [request(hash, offset: fetchOffset)] + heartbeatIfDue(t)
        }
        return heartbeatIfDue(t)
    }

    /// Hello every second until welcomed, then a heartbeat every interval.
    func heartbeatIfDue(_ t: Double) -> [WorkerAction] {
        if !joined {
            guard t - lastHello >= 1 else { return [] }
            lastHello = t
            return [.send(WireProtocol.encode(.hello(hello)))]
        }
        guard t - lastHeartbeat >= heartbeatInterval else { return [] }
        lastHeartbeat = t
        var h = Octet_Wire_Heartbeat()
        h.workerID = hello.workerID
        h.imagesPerSecond = imagesPerSecond
        return [.send(WireProtocol.encode(.heartbeat(h)))]
    }

    func receive(_ bytes: [UInt8]) -> [WorkerAction] {
        let e: Octet_Wire_Envelope
        do { e = try WireProtocol.decode(bytes, maxBytes: Int.max) } catch {
            logger.warning("bad message from the coordinator", metadata: ["error": "\(error)"])
            return []
        }
        switch e.body {
        case .welcome(let w):
            if !joined { logger.info("joined the coordinator", metadata: ["worker": "\(hello.workerID)"]) }
            joined = true
            if w.heartbeatIntervalSeconds > 0 && w.heartbeatIntervalSeconds.isFinite { heartbeatInterval = w.heartbeatIntervalSeconds }
            return []
        case .refusal(let r):
            if r.reason == .unknownWorker {
                joined = false
                lastHello = -Double.infinity
                return tick()
            }
            if r.reason == .wrongVersion {
                return [.fail("the coordinator refused this worker: \(r.message) (this worker speaks protocol version \(WireProtocol.version), " +
                              "the coordinator \(r.expectedVersion)); run the same Octet version on both")]
            } else {
                logger.warning("refused by the coordinator", metadata: ["reason": "\(r.reason)", "message": "\(r.message)"])
            }
            if let c = current, !computing, r.reason == .notFound {
                current = nil
                return [.send(failure(c, "cannot fetch a blob: \(r.message)", permanent: false))] + next()
            }
            return []
        case .assignment(let a):
            guard !stopping else { return [.send(failure(a, "worker stopping", permanent: false))] }
            guard queue.count < Self.maxQueuedAssignments else {
                return [.send(failure(a, "worker queue full (\(Self.maxQueuedAssignments) assignments)", permanent: false))]
            }
            queue.append(a)
            return current == nil ? next() : []
        case .blobChunk(let c):
            return chunk(c)
        default:
            return []
        }
    }

    /// Starts the next queued task: fetch what is missing, then compute.
    func next() -> [WorkerAction] {
        guard current == nil, !queue.isEmpty, !stopping else { return [] }
        let a = queue.removeFirst()
        current = a
        var needed = [a.modelHash]
        if !a.int8ModelHash.isEmpty { needed.append(a.int8ModelHash) }
        if let spec = try? JobSpec.parse(a.jobSpecJson) {
            needed += spec.dataset.files(for: Int(a.start)..<Int(a.end)).map(\.hash)
        }
        var seen = Set<String>()
        missing = needed.filter { !cache.contains($0) && seen.insert($0).inserted }
        return fetchOrCompute()
    }

    func fetchOrCompute() -> [WorkerAction] {
        guard let a = current else { return [] }
        if let hash = missing.first { return [request(hash, offset: 0)] }
        computing = true
        return [.compute(a)]
    }

    func request(_ hash: String, offset: UInt64) -> WorkerAction {
        fetchOffset = offset
        lastFetch = now()
        var r = Octet_Wire_BlobRequest()
        r.hash = hash
        r.offset = offset
        r.length = UInt32(WireProtocol.blobChunkBytes)
        requestCounter += 1
        return .send(WireProtocol.encode(.blobRequest(r), requestID: requestCounter))
    }

    func chunk(_ c: Octet_Wire_BlobChunk) -> [WorkerAction] {
        // A chunk not asked for now (a duplicate, or the answer to a request sent again) is stale.
        guard let hash = missing.first, c.hash == hash, c.offset == fetchOffset, let a = current else { return [] }
        var put = Octet_Wire_BlobPut()
        put.hash = c.hash
        put.offset = c.offset
        put.totalSize = c.totalSize
        put.data = c.data
        do {
            let ack = try cache.receive(put, maxSize: maxBlobBytes)
            if ack.complete {
                missing.removeFirst()
                return fetchOrCompute()
            }
            return [request(hash, offset: ack.received)]
        } catch {
            current = nil
            missing = []
            return [.send(failure(a, "fetching blob \(hash): \(error)", permanent: false))] + next()
        }
    }

    func computed(_ result: Result<Octet_Wire_TaskResult, TaskError>) -> [WorkerAction] {
        computing = false
        guard let a = current else { return [] }
        current = nil
        var actions: [WorkerAction]
        switch result {
        case .success(let r):
            tasksDone += 1
            if r.seconds > 0 { imagesPerSecond = Double(r.images) / r.seconds }
            actions = [.send(WireProtocol.encode(.result(r)))]
        case .failure(let e):
            logger.warning("task failed", metadata: ["job": "\(a.jobID)", "task": "\(a.task)", "error": "\(e.message)"])
            actions = [.send(failure(a, e.message, permanent: e.permanent))]
        }
        return stopping ? actions + goodbye() : actions + next()
    }

    func failure(_ a: Octet_Wire_TaskAssignment, _ message: String, permanent: Bool) -> [UInt8] {
        var f = Octet_Wire_TaskFailure()
        f.jobID = a.jobID
        f.task = a.task
        f.attempt = a.attempt
        f.workerID = hello.workerID
        f.message = message
        f.permanent = permanent
        return WireProtocol.encode(.failure(f))
    }

    func goodbye() -> [WorkerAction] {
        var g = Octet_Wire_Goodbye()
        g.workerID = hello.workerID
        return [.send(WireProtocol.encode(.goodbye(g))), .exit]
    }
}
