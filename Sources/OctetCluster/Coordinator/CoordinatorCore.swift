import Foundation
import Logging
import SwiftProtobuf

/// Inputs of the coordinator's state machine.
public enum CoordinatorEvent: Sendable {
    /// Raw bytes from a peer (decoded, validated and counted here).
    case message(PeerID, [UInt8])
    /// Time passed: check liveness.
    case tick
    /// A job's preparation (background work) finished.
    case prepared(String, Result<PreparedJob, JobFailure>)
    /// A job's finalization (background work) finished.
    case finalized(String, Result<FinalizedJob, JobFailure>)
    /// Writes the core asked for (`.persist`) failed, with the store's error: their jobs fail
    /// with it as the cause.
    case persistFailed([StoreWrite], String)
    /// A read or blob action was refused (a blob not held, a chunk out of order, results not
    /// readable; `CoordinatorIO.reply`): counted and sent like any refused message.
    case refused(PeerID, requestID: UInt64, WireError)
}

/// Outputs of the state machine, carried out by the driver.
///
/// The I/O ones (`persist`, `serveResults`, `serveBlob`, `storeBlob`) are carried out off the
/// message loop, in order; every later action waits for the I/O before it (a reply that a write
/// made true is sent once it is durable; a finalization reads the results written before it).
/// `CoordinatorIO` carries out the I/O for every driver.
public enum CoordinatorAction: Sendable {
    case send(PeerID, [UInt8])
    /// Write these changes (in one transaction); a failure comes back as `.persistFailed`.
    case persist([StoreWrite])
    /// Read a streaming job's stored results and reply with them.
    case serveResults(ResultsServing)
    /// Read a chunk of a blob and reply with it.
    case serveBlob(PeerID, UInt64, Octet_Wire_BlobRequest)
    /// Store an uploaded chunk and acknowledge it.
    case storeBlob(PeerID, UInt64, Octet_Wire_BlobPut)
    /// Start preparing a job in the background (then feed `.prepared`).
    case prepare(JobRecord)
    /// Start finalizing a job in the background (then feed `.finalized`).
    case finalize(JobRecord, [TaskRecord])
    /// A job is done or failed: its handler drops what it keeps for it (after any of its
    /// background work still running).
    case ended(JobRecord)

    /// Whether it is I/O, carried out off the message loop in order (`CoordinatorIO`), with every
    /// later action behind it.
    public var isIO: Bool {
        switch self {
        case .persist, .serveResults, .serveBlob, .storeBlob: true
        case .send, .prepare, .finalize, .ended: false
        }
    }
}

/// The coordinator's state machine, a value: workers, jobs and tasks. It decides; it never
/// blocks, sleeps, touches the network or writes the disk (the driver carries out what it
/// returns), so tests and the simulator drive it directly. Every job and task change is returned
/// as a write (`.persist`) ahead of the actions that depend on it.
public struct CoordinatorCore {
    public let settings: CoordinatorSettings
    /// Only asked whether a job's blobs were uploaded (a file's existence) when it is submitted.
    public let blobs: BlobStore
    /// The job kinds it runs.
    public let handlers: JobHandlers
    let logger: Logger
    /// Wall-clock time: a job's created and finished times (stored, shown).
    let now: () -> Double
    /// Monotonic time (seconds since boot): liveness, task timeouts, ETAs and latencies, which a
    /// wall clock stepped by NTP would break (every worker lost on a step forward).
    let uptime: () -> Double
    let started: Double

    public internal(set) var workers: [String: WorkerRecord] = [:]
    var workerByPeer: [PeerID: String] = [:]
    public internal(set) var jobs: [String: JobRecord] = [:]
    public internal(set) var tasks: [String: [TaskRecord]] = [:]
    var runningSince: [String: Double] = [:]
    /// Rejected messages by reason.
    public internal(set) var rejected: [String: Int] = [:]
    public internal(set) var received = 0
    /// Results for tasks already done (late duplicates), ignored.
    public internal(set) var duplicateResults = 0
    /// Results accepted (each completes a task), since this core started.
    public internal(set) var acceptedResults = 0
    /// Samples of the results accepted, since this core started (the status page's throughput).
    public internal(set) var imagesDone = 0
    /// When each assigned task was handed out (`CoordinatorSettings.taskTimeout`).
    var assignedAt: [TaskKey: Double] = [:]
    /// Per job, its tasks done (a task never leaves `done`), so finishing is noticed without a scan.
    var doneCount: [String: Int] = [:]
    /// Per job, an index below which no task is pending: dispatch starts there. Every change of a
    /// task to pending lowers it; dispatch raises it past the tasks no longer pending.
    var firstPending: [String: Int] = [:]
    /// Per inference job, the tasks its client has committed (`ResultsQuery`): their results are
    /// dropped, and dispatch runs at most `outputWindow` tasks beyond.
    var committed: [String: Int] = [:]
    /// Per job, its spec as the wire carries it, converted once for all its assignments (a spec
    /// never changes); dropped when the job finishes (no more assignments).
    var wireSpecs: [String: Octet_Wire_JobSpec] = [:]
    /// Jobs that ended while handling the current event (`CoordinatorAction.ended`).
    var ended: [JobRecord] = []
    /// Writes asked for while handling the current event: returned first, as one `.persist`.
    var writes: [StoreWrite] = []
    let makeJobID: () -> String
    let metrics: CoordinatorMetrics

    public init(settings: CoordinatorSettings, blobs: BlobStore, handlers: JobHandlers,
                logger: Logger = Logger(label: "octet.coordinator"),
                now: @escaping () -> Double = { Date().timeIntervalSince1970 },
                uptime: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
                makeJobID: @escaping () -> String = { "job-" + String(UUID().uuidString.prefix(8)).lowercased() }) {
        self.makeJobID = makeJobID
        self.settings = settings
        self.blobs = blobs
        self.handlers = handlers
        self.logger = logger
        self.now = now
        self.uptime = uptime
        self.started = uptime()
        self.metrics = CoordinatorMetrics()
    }

    /// Takes up the jobs of a restarted coordinator's store (`JobStore.load`): assigned tasks go
    /// back to pending (their workers may be gone), finished tasks keep their results. Returns the
    /// background work to restart.
    public mutating func resume(_ stored: [StoredJob]) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for s in stored {
            let job = s.job
            var list = s.tasks, requeued: [TaskRecord] = []
            for i in list.indices where list[i].state == .assigned {
                list[i].state = .pending
                list[i].worker = nil
                requeued.append(list[i])
            }
            if !requeued.isEmpty { writes.append(.tasks(requeued)) }
            jobs[job.id] = job
            tasks[job.id] = list
            if job.streamsResults { committed[job.id] = s.committed }
            doneCount[job.id] = list.filter { $0.state == .done }.count
            firstPending[job.id] = 0
            guard !job.state.isFinished else { continue }
            logger.info("resuming job", metadata: ["job": "\(job.id)", "state": "\(job.state.rawValue)",
                                                   "done": "\(list.filter { $0.state == .done }.count)/\(list.count)"])
            runningSince[job.id] = uptime()
            switch job.state {
            case .preparing: actions.append(.prepare(job))
            case .finalizing: actions.append(.finalize(job, list))
            case .running, .verifying: actions += advance(job.id)
            case .done, .failed: break
            }
        }
        return flush(actions + dispatch())
    }

    /// How many of `job`'s tasks are done.
    public func tasksDone(_ job: String) -> Int { doneCount[job] ?? 0 }

    public mutating func handle(_ event: CoordinatorEvent) -> [CoordinatorAction] {
        let actions: [CoordinatorAction]
        switch event {
        case .message(let peer, let bytes): actions = receive(peer, bytes)
        case .tick: actions = checkLiveness() + dispatch()
        case .prepared(let id, let result): actions = prepared(id, result) + dispatch()
        case .finalized(let id, let result): actions = finalized(id, result) + dispatch()
        case .persistFailed(let failed, let error): actions = persistFailed(failed, error) + dispatch()
        case .refused(let peer, let rid, let error): actions = reject(peer, error, requestID: rid)
        }
        return flush(actions)
    }

    /// `actions` after the writes asked for on the way (as one `.persist`) and before the jobs that ended.
    mutating func flush(_ actions: [CoordinatorAction]) -> [CoordinatorAction] {
        guard !writes.isEmpty || !ended.isEmpty else { return actions }
        defer {
            writes.removeAll()
            ended.removeAll()
        }
        return (writes.isEmpty ? [] : [.persist(writes)]) + actions + ended.map { .ended($0) }
    }

    /// Records a change to write before the actions it is returned with.
    mutating func persist(_ write: StoreWrite) { writes.append(write) }

    /// Failed writes fail their jobs with the store's error (a job already finished keeps its
    /// state: only its record may be stale on disk, which the log says).
    mutating func persistFailed(_ failed: [StoreWrite], _ error: String) -> [CoordinatorAction] {
        var seen: Set<String> = []
        for w in failed where seen.insert(w.job).inserted {
            guard var job = jobs[w.job] else { continue }
            guard !job.state.isFinished else {
                logger.critical("cannot store a finished job's record", metadata: ["job": "\(job.id)", "state": "\(job.state.rawValue)", "store": "\(error)"])
                continue
            }
            fail(&job, "cannot store \(w.what): \(error)")
        }
        return []
    }

    // MARK: Messages

    mutating func receive(_ peer: PeerID, _ bytes: [UInt8]) -> [CoordinatorAction] {
        received += 1
        let envelope: Octet_Wire_Envelope
        do {
            guard !bytes.isEmpty else { throw WireError.malformed("empty message or wrong framing") }
            envelope = try WireProtocol.decode(bytes, maxBytes: settings.maxMessageBytes)
        } catch let error as WireError {
            return reject(peer, error, requestID: 0)
        } catch {
            return reject(peer, .malformed("\(error)"), requestID: 0)
        }
        if let id = workerByPeer[peer] { workers[id]?.lastSeen = uptime() }
        let rid = envelope.requestID
        switch envelope.body {
        case .hello(let h): return hello(peer, h, rid) + dispatch()
        case .heartbeat(let h): return heartbeat(peer, h, rid)
        case .goodbye(let g): return goodbye(peer, g) + dispatch()
        case .result(let r): return result(peer, r, rid) + dispatch()
        case .failure(let f): return failure(peer, f) + dispatch()
        case .blobRequest(let r): return blobRequest(peer, r, rid)
        case .blobPut(let p): return blobPut(peer, p, rid)
        case .submit(let s): return submit(peer, s, rid) + dispatch()
        case .jobQuery(let q): return jobQuery(peer, q, rid)
        case .resultsQuery(let q): return resultsQuery(peer, q, rid) + dispatch()
        case .statusQuery: return [reply(peer, .statusReport(statusReport()), rid)]
        default:
            return reject(peer, .refused(.invalidRequest, "a coordinator does not accept \(Self.bodyName(envelope.body))"), requestID: rid)
        }
    }

    mutating func reject(_ peer: PeerID, _ error: WireError, requestID: UInt64) -> [CoordinatorAction] {
        let reason: String
        switch error {
        case .malformed, .compression: reason = "malformed"
        case .wrongVersion: reason = "wrong_version"
        case .tooLarge: reason = "too_large"
        case .refused(let r, _): reason = "\(r)".lowercased()
        case .timeout, .transport: reason = "other"
        }
        rejected[reason, default: 0] += 1
        metrics.rejected(reason)
        logger.info("rejected message", metadata: ["peer": "\(peer)", "reason": "\(reason)", "error": "\(error)"])
        return [.send(peer, WireProtocol.encode(WireProtocol.refusal(error), requestID: requestID))]
    }

    func reply(_ peer: PeerID, _ body: Octet_Wire_Envelope.OneOf_Body, _ rid: UInt64) -> CoordinatorAction {
        .send(peer, WireProtocol.encode(body, requestID: rid))
    }

    public static func bodyName(_ body: Octet_Wire_Envelope.OneOf_Body?) -> String {
        guard let body else { return "an empty body" }
        return String(describing: body).split(separator: "(").first.map(String.init) ?? "that message"
    }

    // MARK: Workers

    mutating func hello(_ peer: PeerID, _ h: Octet_Wire_Hello, _ rid: UInt64) -> [CoordinatorAction] {
        guard !h.workerID.isEmpty, h.workerID.utf8.count <= 128 else {
            return reject(peer, .refused(.invalidRequest, "a worker id is 1 to 128 bytes"), requestID: rid)
        }
        var same: WorkerRecord?
        if let old = workers[h.workerID] {
            if old.peer == peer, old.state != .lost {
                // Again on the same connection (the same process: a restarted one connects anew):
                // a Hello queued behind a cut link, or sent on a refused late heartbeat. The worker
                // still holds its tasks; requeueing them would count an attempt per Hello.
                same = old
            } else {
                workerByPeer[old.peer] = nil
                for key in old.tasks { requeue(key, reason: "worker \(h.workerID) reconnected") }
            }
        }
        var record = WorkerRecord(id: h.workerID, peer: peer, host: h.host, cores: Int(h.cores), threads: Int(h.threads),
                                  isa: h.isa, isas: h.isas, version: h.softwareVersion, lastSeen: uptime())
        record.credit = min(max(Int(h.credit), 1), WorkerCore.maxQueuedAssignments)
        if let same {
            record.tasks = same.tasks
            record.state = same.state
            record.tasksDone = same.tasksDone
        }
        workers[h.workerID] = record
        workerByPeer[peer] = h.workerID
        logger.info("worker joined", metadata: ["worker": "\(h.workerID)", "host": "\(h.host)", "isa": "\(h.isa)"])
        var w = Octet_Wire_Welcome()
        w.heartbeatIntervalSeconds = settings.heartbeatInterval
        w.maxMessageBytes = UInt64(settings.maxMessageBytes)
        return [reply(peer, .welcome(w), rid)]
    }

    /// The worker behind `peer`, or a refusal telling it to say Hello again.
    mutating func knownWorker(_ peer: PeerID, claimed: String, _ rid: UInt64) -> (String?, [CoordinatorAction]) {
        if let id = workerByPeer[peer], workers[id]?.state != .lost, claimed.isEmpty || claimed == id { return (id, []) }
        return (nil, reject(peer, .refused(.unknownWorker, "unknown or lost worker '\(claimed)': send Hello"), requestID: rid))
    }

    mutating func heartbeat(_ peer: PeerID, _ h: Octet_Wire_Heartbeat, _ rid: UInt64) -> [CoordinatorAction] {
        let (id, refusal) = knownWorker(peer, claimed: h.workerID, rid)
        guard let id else { return refusal }
        workers[id]?.lastSeen = uptime()
        if h.imagesPerSecond.isFinite && h.imagesPerSecond >= 0 {
            workers[id]?.imagesPerSecond = h.imagesPerSecond
            metrics.workerRate(id, h.imagesPerSecond)
        }
        return []
    }

    mutating func goodbye(_ peer: PeerID, _ g: Octet_Wire_Goodbye) -> [CoordinatorAction] {
        guard let id = workerByPeer[peer], var w = workers[id] else { return [] }
        metrics.workerRate(id, 0)
        for key in w.tasks { requeue(key, reason: "worker \(id) left") }
        w.state = .lost
        w.tasks = []
        workers[id] = w
        workerByPeer[peer] = nil
        logger.info("worker left", metadata: ["worker": "\(id)"])
        return []
    }

    mutating func checkLiveness() -> [CoordinatorAction] {
        let t = uptime()
        for (id, w) in workers where w.state != .lost && t - w.lastSeen > settings.heartbeatTimeout {
            logger.warning("worker lost (no heartbeat)", metadata: ["worker": "\(id)", "silent_seconds": "\(Int(t - w.lastSeen))"])
            for key in w.tasks { requeue(key, reason: "worker \(id) lost") }
            workers[id]?.state = .lost
            workers[id]?.tasks = []
            workerByPeer[w.peer] = nil
            metrics.workerRate(id, 0)
        }
        for id in workers.keys.sorted() {
            guard let w = workers[id], w.state == .busy else { continue }
            for key in w.tasks {
                guard let since = assignedAt[key], t - since > settings.taskTimeout else { continue }
                logger.warning("task timed out", metadata: ["job": "\(key.job)", "task": "\(key.index)", "worker": "\(id)"])
                requeue(key, reason: "no result from worker \(id) in \(Int(settings.taskTimeout)) s")
                workers[id]?.tasks.removeAll { $0 == key }
                assignedAt[key] = nil
            }
            if workers[id]?.tasks.isEmpty == true { workers[id]?.state = .idle }
        }
        metrics.workers(workers.values.map(\.state))
        var open = 0, unread = 0
        for (id, job) in jobs where job.state == .running || job.state == .verifying || job.state == .finalizing || job.state == .done {
            let count = tasks[id]?.count ?? 0, done = doneCount[id] ?? 0
            if !job.state.isFinished { open += count - done }
            if job.streamsResults { unread += max(0, done - (committed[id] ?? 0)) }
        }
        metrics.queue(pending: max(0, open - assignedAt.count), assigned: assignedAt.count, unread: unread)
        return []
    }

    /// Puts an assigned task back in the queue (its worker is gone), or fails its job when the
    /// task has been tried `maxTaskAttempts` times: a task that kills every worker it runs on must
    /// not be re-dispatched forever.
    mutating func requeue(_ key: TaskKey, reason: String) {
        assignedAt[key] = nil
        guard let list = tasks[key.job], key.index < list.count, list[key.index].state == .assigned else { return }
        logger.info("task requeued", metadata: ["job": "\(key.job)", "task": "\(key.index)", "reason": "\(reason)"])
        _ = retryOrFail(key, reason)
    }

    /// Gives pending tasks to workers with credit left: oldest job first, lowest task index
    /// first, each to the first free slot that lists the job's required kernel path. Slots go
    /// breadth first (every worker's first task before any worker's second), in worker id order.
    mutating func dispatch() -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        // The free slots, listed only once a pending task is in reach (most calls have none).
        var slots: [String]?
        func freeSlots() -> [String] {
            // Free slots per worker, sorted by id (not the records: each is a copy of its task list).
            let open = workers.compactMap { id, w in w.state != .lost && w.tasks.count < w.credit ? (id, w.credit - w.tasks.count) : nil }
                .sorted { $0.0 < $1.0 }
            var list: [String] = []
            for level in 0..<(open.map(\.1).max() ?? 0) {
                list += open.filter { $0.1 > level }.map(\.0)
            }
            return list
        }
        for j in jobs.values.sorted(by: { ($0.created, $0.id) < ($1.created, $1.id) }) where j.state == .running || j.state == .verifying {
            guard let count = tasks[j.id]?.count else { continue }
            var index = firstPending[j.id] ?? 0
            while index < count, tasks[j.id]![index].state != .pending { index += 1 }
            firstPending[j.id] = index
            // A streaming job (inference) runs at most `outputWindow` tasks ahead of what its client has written.
            let end = j.streamsResults ? min(count, (committed[j.id] ?? 0) + settings.outputWindow) : count
            while index < end {
                if slots == nil { slots = freeSlots() }
                guard var idle = slots, !idle.isEmpty else { return actions }
                defer { slots = idle }
                let t = tasks[j.id]![index]
                index += 1
                guard t.state == .pending else { continue }
                guard let w = idle.firstIndex(where: { id in j.requirement.map { workers[id]?.isas.isEmpty ?? true || workers[id]!.isas.contains($0) } ?? true })
                else { continue }
                let workerID = idle.remove(at: w)
                guard let job = jobs[j.id], var worker = workers[workerID] else { continue }
                var task = t
                task.state = .assigned
                task.attempts += 1
                task.worker = workerID
                tasks[j.id]![t.index] = task  // in place
                persist(.tasks([task]))
                worker.state = .busy
                worker.tasks.append(TaskKey(job: j.id, index: t.index))
                assignedAt[TaskKey(job: j.id, index: t.index)] = uptime()
                workers[workerID] = worker
                actions.append(.send(worker.peer, WireProtocol.encode(.assignment(assignment(job, task)))))
            }
        }
        return actions
    }

    mutating func assignment(_ job: JobRecord, _ task: TaskRecord) -> Octet_Wire_TaskAssignment {
        var a = Octet_Wire_TaskAssignment()
        a.jobID = job.id
        a.task = UInt32(task.index)
        a.attempt = UInt32(task.attempts)
        a.kind = task.kind
        if let spec = wireSpecs[job.id] { a.spec = spec } else {
            let spec = job.spec.wire
            wireSpecs[job.id] = spec
            a.spec = spec
        }
        a.start = UInt32(task.start)
        a.end = UInt32(task.end)
        a.blobs = [job.spec.modelHash] + task.blobs
        a.context = job.context
        return a
    }

    /// Frees the worker on `peer` if it holds task `key`; false when it does not (a late
    /// message about a task it lost, or an unknown peer).
    @discardableResult
    mutating func release(_ peer: PeerID, _ key: TaskKey) -> Bool {
        guard let id = workerByPeer[peer], var w = workers[id], let i = w.tasks.firstIndex(of: key) else { return false }
        assignedAt[key] = nil
        w.tasks.remove(at: i)
        w.state = w.tasks.isEmpty ? .idle : .busy
        w.tasksDone += 1
        workers[id] = w
        return true
    }
}
