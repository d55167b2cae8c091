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

        enum CodingKeys: String, CodingKey {
            case id, kind, model, state, progress, error
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

    enum CodingKeys: String, CodingKey {
        case workers, jobs
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
        let t = now()
        let ws = workers.values.sorted { $0.id < $1.id }.map { w in
            ClusterStatus.Worker(id: w.id, host: w.host, state: w.state.rawValue, isa: w.isa, cores: w.cores, threads: w.threads,
                                 job: w.task?.job, task: w.task?.index, imagesPerSecond: w.imagesPerSecond,
                                 lastHeartbeatSecondsAgo: max(0, t - w.lastSeen), tasksDone: w.tasksDone)
        }
        let js = jobs.values.sorted { ($0.created, $0.id) < ($1.created, $1.id) }.map { j in
            let list = tasks[j.id] ?? []
            let done = list.filter { $0.state == .done }.count
            return ClusterStatus.Job(id: j.id, kind: j.spec.kind.rawValue, model: j.spec.modelName, state: j.state.rawValue,
                                     tasksTotal: list.count, tasksDone: done,
                                     progress: j.state == .done ? 1 : (list.isEmpty ? 0 : Double(done) / Double(list.count)),
                                     etaSeconds: eta(j), error: j.error)
        }
        return ClusterStatus(protocolVersion: WireProtocol.version, uptimeSeconds: t - started, workers: ws, jobs: js,
                             messagesReceived: received, rejectedMessages: rejected, duplicateResults: duplicateResults)
    }

    func statusReport() -> Octet_Wire_StatusReport {
        var r = Octet_Wire_StatusReport()
        r.statusJson = status().json()
        return r
    }
}
