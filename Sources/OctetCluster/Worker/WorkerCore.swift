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
/// was not started. Its state is explicit: `link` (joining or joined), `fetch` (idle, a chunk
/// asked for, a chunk being written), the queue, the task computing, and whether it is stopping.
public struct WorkerCore {
    /// An assigned task not yet computing; `ready` once its blobs are in the cache.
    struct Queued {
        var assignment: Octet_Wire_TaskAssignment
        var ready = false
        var preparing = false
    }

    /// Where the worker stands with the coordinator.
    enum Link {
        /// Saying Hello once a second (last at `lastHello`) until welcomed.
        case joining(lastHello: Double)
        /// Welcomed: a heartbeat every interval (last at `lastHeartbeat`).
        case joined(lastHeartbeat: Double)
    }

    /// The blobs of one queued task being fetched, one chunk at a time, in order.
    struct BlobFetch {
        var task: Octet_Wire_TaskAssignment
        /// The blob being fetched, and the offset of the chunk of it asked for.
        var blob: String
        var offset: UInt64 = 0
        /// The blobs the task still lacks after `blob`.
        var rest: [String]
    }

    /// What the blob fetch is doing.
    enum Fetch {
        case idle
        /// A chunk was asked for at `since` (asked again after `fetchRetrySeconds`: the request
        /// or its chunk was lost).
        case awaiting(BlobFetch, since: Double)
        /// The chunk asked for arrived and the driver is writing it (`.storeChunk`): chunks and
        /// retries wait for its `.chunkStored`.
        case storing(BlobFetch)

        var task: Octet_Wire_TaskAssignment? {
            switch self {
            case .idle: nil
            case .awaiting(let f, _), .storing(let f): f.task
            }
        }
    }

    public let hello: Octet_Wire_Hello
    let cache: BlobStore
    /// Monotonic time (seconds since boot): heartbeats and retries, which a stepped wall clock
    /// would stop or flood.
    let now: () -> Double
    let logger: Logger

    var link = Link.joining(lastHello: -.infinity)
    var heartbeatInterval = 1.0
    var queue: [Queued] = []
    /// The task computing.
    var computingTask: Octet_Wire_TaskAssignment?
    var fetch = Fetch.idle
    /// Stopping (SIGTERM): nothing new is taken; the task computing finishes, then goodbye.
    var stopping = false
    var imagesPerSecond = 0.0
    var requestCounter: UInt64 = 0
    public private(set) var tasksDone = 0

    /// Whether the coordinator has welcomed this worker.
    public var joined: Bool {
        if case .joined = link { true } else { false }
    }
    /// The task computing, or else the one whose blobs are being fetched.
    public var current: Octet_Wire_TaskAssignment? { computingTask ?? fetch.task }
    /// Whether a task is computing (its result will come as `.computed`).
    public var isComputing: Bool { computingTask != nil }
    /// Whether the driver is writing a fetched chunk (its `.chunkStored` is awaited).
    public var isStoring: Bool {
        if case .storing = fetch { true } else { false }
    }
    /// A blob request unanswered this long is sent again (the request or its chunk was lost).
    public static let fetchRetrySeconds = 5.0

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
            fetch = .idle
            if computingTask != nil { return handedBack }  // finish the task; `.computed` says goodbye
            return handedBack + goodbye()
        }
    }

    mutating func tick() -> [WorkerAction] {
        let t = now()
        if case .awaiting(let f, let since) = fetch, t - since >= Self.fetchRetrySeconds {
            return [request(f)] + heartbeatIfDue(t)
        }
        return heartbeatIfDue(t)
    }

    /// Hello every second until welcomed, then a heartbeat every interval.
    mutating func heartbeatIfDue(_ t: Double) -> [WorkerAction] {
        switch link {
        case .joining(let lastHello):
            guard t - lastHello >= 1 else { return [] }
            link = .joining(lastHello: t)
            return [.send(WireProtocol.encode(.hello(hello)))]
        case .joined(let lastHeartbeat):
            guard t - lastHeartbeat >= heartbeatInterval else { return [] }
            link = .joined(lastHeartbeat: t)
        }
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
            if case .joining = link {
                logger.info("joined the coordinator", metadata: ["worker": "\(hello.workerID)"])
                link = .joined(lastHeartbeat: -.infinity)
            }
            if w.heartbeatIntervalSeconds > 0 && w.heartbeatIntervalSeconds.isFinite { heartbeatInterval = w.heartbeatIntervalSeconds }
            return []
        case .refusal(let r):
            if r.reason == .unknownWorker {
                link = .joining(lastHello: -.infinity)
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
            if let f = fetch.task, r.reason == .notFound, e.requestID == requestCounter, e.requestID != 0 {
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
        if case .idle = fetch {
            while let i = queue.firstIndex(where: { !$0.ready }) {
                let lacking = missingBlobs(queue[i].assignment)
                guard let first = lacking.first else { queue[i].ready = true; continue }
                actions.append(request(BlobFetch(task: queue[i].assignment, blob: first, rest: Array(lacking.dropFirst()))))
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
        fetch = .idle
        return [.send(failure(f, why, permanent: false))] + advance()
    }

    /// Asks for the chunk `f` is at, and awaits it.
    mutating func request(_ f: BlobFetch) -> WorkerAction {
        fetch = .awaiting(f, since: now())
        var r = Octet_Wire_BlobRequest()
        r.hash = f.blob
        r.offset = f.offset
        r.length = UInt32(WireProtocol.blobChunkBytes)
        requestCounter += 1
        return .send(WireProtocol.encode(.blobRequest(r), requestID: requestCounter))
    }

    /// A chunk asked for: its name and size are checked here, and the driver writes it (`.storeChunk`).
    mutating func chunk(_ c: Octet_Wire_BlobChunk) -> [WorkerAction] {
        // A chunk not asked for now (a duplicate, or the answer to a request sent again) is stale.
        guard case .awaiting(let f, _) = fetch, c.hash == f.blob, c.offset == f.offset else { return [] }
        var put = Octet_Wire_BlobPut()
        put.hash = c.hash
        put.offset = c.offset
        put.totalSize = c.totalSize
        put.data = c.data
        if let problem = BlobStore.problem(put, maxSize: maxBlobBytes) { return dropFetching(f.task, "fetching blob \(f.blob): \(problem)") }
        fetch = .storing(f)
        return [.storeChunk(put)]
    }

    /// The chunk at `offset` of `hash` written (or not): the next chunk, the next blob, or the task ready.
    mutating func chunkStored(_ hash: String, _ offset: UInt64, _ result: Result<Octet_Wire_BlobAck, WireError>) -> [WorkerAction] {
        guard case .storing(var f) = fetch, f.blob == hash, f.offset == offset else { return [] }
        switch result {
        case .failure(let error):
            return dropFetching(f.task, "fetching blob \(hash): \(error)")
        case .success(let ack):
            if !ack.complete {
                f.offset = ack.received
                return [request(f)]
            }
            if let next = f.rest.first {
                f = BlobFetch(task: f.task, blob: next, rest: Array(f.rest.dropFirst()))
                return [request(f)]
            }
            if let i = queue.firstIndex(where: { Self.same($0.assignment, f.task) }) { queue[i].ready = true }
            fetch = .idle
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
