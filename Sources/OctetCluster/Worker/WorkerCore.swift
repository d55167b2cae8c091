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
    /// A fetched chunk was written to the cache (`.storeChunk`): the acknowledgment, or why not.
    case chunkStored(hash: String, offset: UInt64, Result<Octet_Wire_BlobAck, WireError>)
}

/// Outputs of a worker's state machine.
public enum WorkerAction: Sendable {
    case send([UInt8])
    /// Run the task in the background, then feed `.computed`.
    case compute(Octet_Wire_TaskAssignment)
    /// Read and preprocess this queued task's samples in the background while another task
    /// computes, so its `.compute` finds them ready (the pipelined worker).
    case prepare(Octet_Wire_TaskAssignment)
    /// Write a fetched chunk to the cache off the message loop, then feed `.chunkStored`.
    case storeChunk(Octet_Wire_BlobPut)
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

/// A worker's state machine, a value: joining (Hello until Welcome), heartbeats, a queue of
/// assigned tasks (the coordinator sends up to the worker's credit), fetching the blobs of queued
/// tasks into the local cache chunk by chunk in order (each chunk written by the driver,
/// `.storeChunk`, so a heartbeat never waits on the disk), computing one task at a time in the
/// order assigned while the next ready one is prepared, and a clean goodbye that hands back what
/// was not started.
public struct WorkerCore {
    /// An assigned task not yet computing; `ready` once its blobs are in the cache.
    struct Queued {
        var assignment: Octet_Wire_TaskAssignment
        var ready = false
        var preparing = false
    }

    public let hello: Octet_Wire_Hello
    let cache: BlobStore
    /// Monotonic time (seconds since boot): heartbeats and retries, which a stepped wall clock
    /// would stop or flood.
    let now: () -> Double
    let logger: Logger

    public private(set) var joined = false
    var heartbeatInterval = 1.0
    var lastHello = -Double.infinity
    var lastHeartbeat = -Double.infinity
    var queue: [Queued] = []
    /// The task computing.
    var computingTask: Octet_Wire_TaskAssignment?
    /// The queued task whose blobs are being fetched, and the blobs it still lacks.
    var fetching: Octet_Wire_TaskAssignment?
    var missing: [String] = []
    /// The task computing, or else the one whose blobs are being fetched.
    public var current: Octet_Wire_TaskAssignment? { computingTask ?? fetching }
    /// The offset of the chunk last requested of `missing.first`, and when.
    var fetchOffset: UInt64 = 0
    /// A fetched chunk is being written (`.storeChunk`): chunks and retries wait for it.
    var storing = false
    var lastFetch = -Double.infinity
    /// A blob request unanswered this long is sent again (the request or its chunk was lost).
    public static let fetchRetrySeconds = 5.0
    /// Whether a task is computing (its result will come as `.computed`).
    public var isComputing: Bool { computingTask != nil }
    var stopping = false
    var imagesPerSecond = 0.0
    var requestCounter: UInt64 = 0
    public private(set) var tasksDone = 0

    /// The largest blob (model, image) this worker accepts from the coordinator.
    public let maxBlobBytes: UInt64
    /// The largest message it decodes (a larger one is dropped unread, as the coordinator refuses
    /// one past its own limit).
    public let maxMessageBytes: Int
    /// Assignments queued beyond this are handed back at once (the coordinator sends at most the
    /// worker's credit, so only a faulty or hostile peer exceeds it).
    public static let maxQueuedAssignments = 16

    public init(hello: Octet_Wire_Hello, cache: BlobStore, maxBlobBytes: UInt64 = 4 << 30,
                maxMessageBytes: Int = WireProtocol.defaultMaxMessageBytes * 2, logger: Logger = Logger(label: "octet.worker"),
                now: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.hello = hello
        self.cache = cache
        self.maxBlobBytes = maxBlobBytes
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
        self.now = now
    }

    public mutating func handle(_ event: WorkerEvent) -> [WorkerAction] {
        switch event {
        case .tick: return tick()
        case .message(let bytes): return receive(bytes)
        case .computed(let result): return computed(result)
        case .chunkStored(let hash, let offset, let result): return chunkStored(hash, offset, result)
        case .stop:
            stopping = true
            // What was not started goes back to the coordinator now.
            let handedBack: [WorkerAction] = queue.map { .send(failure($0.assignment, "worker stopping", permanent: false)) }
            queue.removeAll()
            fetching = nil
            missing = []
            storing = false
            if computingTask != nil { return handedBack }  // finish the task; `.computed` says goodbye
            return handedBack + goodbye()
        }
    }

    mutating func tick() -> [WorkerAction] {
        let t = now()
        if fetching != nil, !storing, let hash = missing.first, t - lastFetch >= Self.fetchRetrySeconds {
            return [request(hash, offset: fetchOffset)] + heartbeatIfDue(t)
        }
        return heartbeatIfDue(t)
    }

    /// Hello every second until welcomed, then a heartbeat every interval.
    mutating func heartbeatIfDue(_ t: Double) -> [WorkerAction] {
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

    mutating func receive(_ bytes: [UInt8]) -> [WorkerAction] {
        let e: Octet_Wire_Envelope
        do { e = try WireProtocol.decode(bytes, maxBytes: maxMessageBytes) } catch {
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
            // A blob the coordinator does not have (the refusal answers the last blob request; a
            // refused result, say, leaves the fetch alone).
            if let f = fetching, r.reason == .notFound, e.requestID == requestCounter, e.requestID != 0 {
                return dropFetching(f, "cannot fetch a blob: \(r.message)")
            }
            return []
        case .assignment(let a):
            guard !stopping else { return [.send(failure(a, "worker stopping", permanent: false))] }
            guard queue.count < Self.maxQueuedAssignments else {
                return [.send(failure(a, "worker queue full (\(Self.maxQueuedAssignments) assignments)", permanent: false))]
            }
            queue.append(Queued(assignment: a))
            return advance()
        case .blobChunk(let c):
            return chunk(c)
        default:
            return []
        }
    }

    /// Moves the pipeline on: fetches the blobs of queued tasks in order, starts the first
    /// queued task once it is ready (tasks run in the order assigned), and has the next ready
    /// one prepared while a task computes.
    mutating func advance() -> [WorkerAction] {
        guard !stopping else { return [] }
        var actions: [WorkerAction] = []
        if fetching == nil {
            while let i = queue.firstIndex(where: { !$0.ready }) {
                let lacking = missingBlobs(queue[i].assignment)
                if lacking.isEmpty { queue[i].ready = true; continue }
                fetching = queue[i].assignment
                missing = lacking
                actions.append(request(lacking[0], offset: 0))
                break
            }
        }
        if computingTask == nil, let first = queue.first, first.ready {
            queue.removeFirst()
            computingTask = first.assignment
            actions.append(.compute(first.assignment))
        }
        if computingTask != nil, let next = queue.first, next.ready, !next.preparing {
            queue[0].preparing = true
            actions.append(.prepare(next.assignment))
        }
        return actions
    }

    /// The blobs `a` reads that the cache lacks, each once.
    func missingBlobs(_ a: Octet_Wire_TaskAssignment) -> [String] {
        var seen = Set<String>()
        return a.blobs.filter { !cache.contains($0) && seen.insert($0).inserted }
    }

    static func same(_ a: Octet_Wire_TaskAssignment, _ b: Octet_Wire_TaskAssignment) -> Bool {
        a.jobID == b.jobID && a.task == b.task && a.attempt == b.attempt
    }

    /// Hands back the task being fetched (another worker may fetch what this one cannot).
    mutating func dropFetching(_ f: Octet_Wire_TaskAssignment, _ why: String) -> [WorkerAction] {
        queue.removeAll { Self.same($0.assignment, f) }
        fetching = nil
        missing = []
        storing = false
        return [.send(failure(f, why, permanent: false))] + advance()
    }

    mutating func request(_ hash: String, offset: UInt64) -> WorkerAction {
        fetchOffset = offset
        lastFetch = now()
        var r = Octet_Wire_BlobRequest()
        r.hash = hash
        r.offset = offset
        r.length = UInt32(WireProtocol.blobChunkBytes)
        requestCounter += 1
        return .send(WireProtocol.encode(.blobRequest(r), requestID: requestCounter))
    }

    /// A chunk asked for: its name and size are checked here, and the driver writes it (`.storeChunk`).
    mutating func chunk(_ c: Octet_Wire_BlobChunk) -> [WorkerAction] {
        // A chunk not asked for now (a duplicate, or the answer to a request sent again) is stale.
        guard !storing, let hash = missing.first, c.hash == hash, c.offset == fetchOffset, let f = fetching else { return [] }
        var put = Octet_Wire_BlobPut()
        put.hash = c.hash
        put.offset = c.offset
        put.totalSize = c.totalSize
        put.data = c.data
        if let problem = BlobStore.problem(put, maxSize: maxBlobBytes) { return dropFetching(f, "fetching blob \(hash): \(problem)") }
        storing = true
        return [.storeChunk(put)]
    }

    /// The chunk at `offset` of `hash` written (or not): the next chunk, the next blob, or the task ready.
    mutating func chunkStored(_ hash: String, _ offset: UInt64, _ result: Result<Octet_Wire_BlobAck, WireError>) -> [WorkerAction] {
        guard storing, missing.first == hash, offset == fetchOffset, let f = fetching else { return [] }
        storing = false
        switch result {
        case .failure(let error):
            return dropFetching(f, "fetching blob \(hash): \(error)")
        case .success(let ack):
            guard ack.complete else { return [request(hash, offset: ack.received)] }
            missing.removeFirst()
            if let next = missing.first { return [request(next, offset: 0)] }
            if let i = queue.firstIndex(where: { Self.same($0.assignment, f) }) { queue[i].ready = true }
            fetching = nil
            return advance()
        }
    }

    mutating func computed(_ result: Result<Octet_Wire_TaskResult, TaskError>) -> [WorkerAction] {
        guard let a = computingTask else { return [] }
        computingTask = nil
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
        return stopping ? actions + goodbye() : actions + advance()
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
