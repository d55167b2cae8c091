import Foundation

/// The coordinator's status document: what `octet status --json` prints and HTTP `/status` serves.
public struct ClusterStatus: Codable, Sendable {
    public struct Worker: Codable, Sendable {
        public var id: String
        public var host: String
        public var state: String
        public var isa: String
        public var cores: Int
        public var threads: Int
        public var job: String?
        public var task: Int?
        public var imagesPerSecond: Double
        public var lastHeartbeatSecondsAgo: Double
        public var tasksDone: Int

        enum CodingKeys: String, CodingKey {
            case id, host, state, isa, cores, threads, job, task
            case imagesPerSecond = "images_per_second"
            case lastHeartbeatSecondsAgo = "last_heartbeat_seconds_ago"
            case tasksDone = "tasks_done"
        }
    }

    public struct Job: Codable, Sendable {
        public var id: String
        public var kind: String
        public var model: String
        public var state: String
        public var tasksTotal: Int
        public var tasksDone: Int
        public var progress: Double
        public var etaSeconds: Double
        public var error: String?
        /// Inference: the tasks its client has written.
        public var tasksWritten: Int?
        /// Inference: every task the output window allows is done; the job waits for its client
        /// to write them (`--output-window`).
        public var waitingForClient: Bool?

        enum CodingKeys: String, CodingKey {
            case id, kind, model, state, progress, error
            case tasksWritten = "tasks_written"
            case waitingForClient = "waiting_for_client"
            case tasksTotal = "tasks_total"
            case tasksDone = "tasks_done"
            case etaSeconds = "eta_seconds"
        }
    }

    public var protocolVersion: UInt32
    public var uptimeSeconds: Double
    public var workers: [Worker]
    public var jobs: [Job]
    public var messagesReceived: Int
    public var rejectedMessages: [String: Int]
    public var duplicateResults: Int
    /// Samples of every result accepted since the coordinator started.
    public var imagesProcessed: Int
    /// Tasks waiting for a worker, over all jobs.
    public var tasksPending: Int

    enum CodingKeys: String, CodingKey {
        case workers, jobs
        case imagesProcessed = "images_processed"
        case tasksPending = "tasks_pending"
        case protocolVersion = "protocol_version"
        case uptimeSeconds = "uptime_seconds"
        case messagesReceived = "messages_received"
        case rejectedMessages = "rejected_messages"
        case duplicateResults = "duplicate_results"
    }

    public func json(pretty: Bool = false) -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return (try? String(decoding: e.encode(self), as: UTF8.self)) ?? "{}"
    }
}

extension CoordinatorCore {
    public func status() -> ClusterStatus {
        let t = uptime()
        let ws = workers.values.sorted { $0.id < $1.id }.map { w in
            ClusterStatus.Worker(id: w.id, host: w.host, state: w.state.rawValue, isa: w.isa, cores: w.cores, threads: w.threads,
                                 job: w.task?.job, task: w.task?.index, imagesPerSecond: w.imagesPerSecond,
                                 lastHeartbeatSecondsAgo: max(0, t - w.lastSeen), tasksDone: w.tasksDone)
        }
        let js = jobs.values.sorted { ($0.created, $0.id) < ($1.created, $1.id) }.map { j in
            let count = tasks[j.id]?.count ?? 0, done = doneCount[j.id] ?? 0
            let infer = j.streamsResults, written = committed[j.id] ?? 0
            // Dispatch only hands out tasks below written + window: all of those done, the job waits.
            let waiting = infer && j.state == .running && done < count && done >= min(count, written + settings.outputWindow)
            return ClusterStatus.Job(id: j.id, kind: j.spec.kind, model: j.spec.modelName, state: j.state.rawValue,
                                     tasksTotal: count, tasksDone: done,
                                     progress: j.state == .done ? 1 : (count == 0 ? 0 : Double(done) / Double(count)),
                                     etaSeconds: waiting ? 0 : eta(j), error: j.error, tasksWritten: infer ? written : nil,
                                     waitingForClient: infer ? waiting : nil)
        }
        return ClusterStatus(protocolVersion: WireProtocol.version, uptimeSeconds: t - started, workers: ws, jobs: js,
                             messagesReceived: received, rejectedMessages: rejected, duplicateResults: duplicateResults,
                             imagesProcessed: imagesDone, tasksPending: max(0, js.filter { !["done", "failed"].contains($0.state) }.reduce(0) { $0 + $1.tasksTotal - $1.tasksDone } - assignedAt.count))
    }

    func statusReport() -> Octet_Wire_StatusReport {
        var r = Octet_Wire_StatusReport()
        r.statusJson = status().json()
        return r
    }
}
