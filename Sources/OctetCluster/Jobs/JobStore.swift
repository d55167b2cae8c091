import Foundation
import GRDB

/// A stored job as a restarted coordinator finds it (`JobStore.load`).
public struct StoredJob: Sendable {
    public var job: JobRecord
    public var tasks: [TaskRecord]
    /// A streaming job's tasks its client has committed (their results dropped).
    public var committed: Int
    public init(job: JobRecord, tasks: [TaskRecord], committed: Int) {
        self.job = job
        self.tasks = tasks
        self.committed = committed
    }
}

/// Durable job state: jobs, their tasks, and finished tasks' results, in SQLite. A restarted
/// coordinator reloads it and resumes: finished tasks keep their results and are never redone.
public final class JobStore: @unchecked Sendable {
    private let db: DatabaseQueue

    /// Opens (creating if needed) `path`; ":memory:" keeps everything in memory.
    public init(path: String) throws {
        if path != ":memory:" {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        // Write-ahead logging with `synchronous = NORMAL`: a commit appends to the log without
        // waiting for the disk's flush; it survives a killed coordinator (what a coordinator
        // restart resumes from), and only the last commits before a power loss may be lost.
        var config = Configuration()
        config.journalMode = .wal
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        db = path == ":memory:" ? try DatabaseQueue() : try DatabaseQueue(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE job (id TEXT PRIMARY KEY NOT NULL, created REAL NOT NULL, record TEXT NOT NULL);
                CREATE TABLE task (job TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL, result BLOB,
                                   PRIMARY KEY (job, idx));
                """)
        }
        try migrator.migrate(db)
    }

    /// Writes `changes` in order, in one transaction: all of them or, on an error, none (group
    /// commit: the coordinator's driver hands over every write queued while the last one ran).
    public func apply(_ changes: [StoreWrite]) throws {
        guard !changes.isEmpty else { return }
        // Encoded before the transaction, which then only writes.
        let rows = try changes.map { change -> (StoreWrite, [String]) in
            switch change {
            case .job(let j): (change, [try Self.encode(j)])
            case .tasks(let list): (change, list.map(Self.json))
            case .complete(let t, _): (change, [Self.json(t)])
            case .dropResults: (change, [])
            }
        }
        try db.write { db in
            for (change, json) in rows {
                switch change {
                case .job(let job):
                    try db.cachedStatement(sql: "INSERT INTO job (id, created, record) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record")
                        .execute(arguments: [job.id, job.created, json[0]])
                case .tasks(let tasks):
                    // A cached statement: parsed once, not once per task.
                    let statement = try db.cachedStatement(sql: "INSERT INTO task (job, idx, record) VALUES (?, ?, ?) ON CONFLICT(job, idx) DO UPDATE SET record = excluded.record")
                    for (t, record) in zip(tasks, json) { try statement.execute(arguments: [t.job, t.index, record]) }
                case .complete(let task, let result):
                    try db.cachedStatement(sql: "INSERT INTO task (job, idx, record, result) VALUES (?, ?, ?, ?) ON CONFLICT(job, idx) DO UPDATE SET record = excluded.record, result = excluded.result")
                        .execute(arguments: [task.job, task.index, json[0], Data(result)])
                case .dropResults(let job, let range):
                    try db.cachedStatement(sql: "UPDATE task SET result = NULL WHERE job = ? AND idx >= ? AND idx < ?")
                        .execute(arguments: [job, range.lowerBound, range.upperBound])
                }
            }
        }
    }

    public func save(_ job: JobRecord) throws { try apply([.job(job)]) }

    public func save(_ tasks: [TaskRecord]) throws { try apply([.tasks(tasks)]) }

    /// Marks `task` done with its result, in one transaction.
    public func complete(_ task: TaskRecord, result: [UInt8]) throws { try apply([.complete(task, result: result)]) }

    /// Drops the stored results of `job`'s tasks in `range` (a client committed them).
    public func dropResults(job: String, _ range: Range<Int>) throws { try apply([.dropResults(job: job, range)]) }

    /// What a coordinator resumes from: every stored job with its tasks, and for a streaming job
    /// the tasks its client has committed.
    public func load() throws -> [StoredJob] {
        try jobs().map { job in
            StoredJob(job: job, tasks: try tasks(of: job.id), committed: job.streamsResults ? try committedTasks(job: job.id) : 0)
        }
    }

    /// How many of `job`'s first tasks are done with their result dropped: the tasks its client
    /// has committed (`dropResults`), recovered after a restart without a write per commit.
    public func committedTasks(job: String) throws -> Int {
        try db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT idx, result IS NULL AS dropped, record FROM task WHERE job = ? ORDER BY idx", arguments: [job])
            var n = 0
            for row in rows {
                let idx: Int = row["idx"], dropped: Bool = row["dropped"], record: String = row["record"]
                guard idx == n, dropped, try Self.decode(TaskRecord.self, record).state == .done else { break }
                n += 1
            }
            return n
        }
    }

    /// How many tasks of `job` hold a stored result.
    public func storedResults(job: String) throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM task WHERE job = ? AND result IS NOT NULL", arguments: [job]) ?? 0 }
    }

    /// Every stored job, oldest first. A record this version cannot read (written by an Octet
    /// before the job-handler seam, protocol version 3 or earlier) is an error naming the job.
    public func jobs() throws -> [JobRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, record FROM job ORDER BY created, id").map { row in
                let id: String = row["id"], record: String = row["record"]
                do { return try Self.decode(JobRecord.self, record) } catch {
                    throw JobFailure("stored job \(id) cannot be read (written by an earlier Octet version? start the coordinator with a new --state): \(error)")
                }
            }
        }
    }

    public func tasks(of job: String) throws -> [TaskRecord] {
        try db.read { db in
            try String.fetchAll(db, sql: "SELECT record FROM task WHERE job = ? ORDER BY idx", arguments: [job]).map { try Self.decode(TaskRecord.self, $0) }
        }
    }

    public func result(job: String, index: Int) throws -> [UInt8]? {
        try db.read { db in
            try Data.fetchOne(db, sql: "SELECT result FROM task WHERE job = ? AND idx = ?", arguments: [job, index]).map { [UInt8]($0) }
        }
    }

    /// `job`'s stored results of tasks in `range`, in task order, one read and one cached
    /// statement for all of them; `body` gets each task's index and result (nil: none stored) and
    /// returns false to stop (only what it has seen was read).
    public func results(job: String, in range: Range<Int>, _ body: (Int, [UInt8]?) throws -> Bool) throws {
        try db.read { db in
            let statement = try db.cachedStatement(sql: "SELECT idx, result FROM task WHERE job = ? AND idx >= ? AND idx < ? ORDER BY idx")
            let rows = try Row.fetchCursor(statement, arguments: [job, range.lowerBound, range.upperBound])
            var expected = range.lowerBound
            while let row = try rows.next() {
                let index: Int = row["idx"], data: Data? = row["result"]
                // A task without a row has no result either.
                while expected < index {
                    guard try body(expected, nil) else { return }
                    expected += 1
                }
                guard try body(index, data.map { [UInt8]($0) }) else { return }
                expected = index + 1
            }
            while expected < range.upperBound {
                guard try body(expected, nil) else { return }
                expected += 1
            }
        }
    }

    /// The stored results of `tasks`, in their order; a missing or unreadable one is an error.
    public func results(of tasks: [TaskRecord]) throws -> [Octet_Wire_TaskResult] {
        try tasks.map { t in
            guard let bytes = try result(job: t.job, index: t.index) else { throw JobFailure("task \(t.index) of \(t.job) has no stored result") }
            return try Octet_Wire_TaskResult(serializedBytes: bytes)
        }
    }

    /// A task record as JSON with sorted keys, what `JSONEncoder` writes for it, built directly:
    /// a task is written twice per task run (assigned, done), and `JSONEncoder` was a third of
    /// the coordinator's time at scale. Read back with `JSONDecoder` like every record.
    public static func json(_ t: TaskRecord) -> String {
        var out = "{\"attempts\":\(t.attempts),\"blobs\":["
        for (i, b) in t.blobs.enumerated() {
            if i > 0 { out += "," }
            appendString(b, to: &out)
        }
        out += "],\"end\":\(t.end),\"index\":\(t.index),\"job\":"
        appendString(t.job, to: &out)
        out += ",\"kind\":"
        appendString(t.kind, to: &out)
        out += ",\"start\":\(t.start),\"state\":"
        appendString(t.state.rawValue, to: &out)
        if let worker = t.worker {
            out += ",\"worker\":"
            appendString(worker, to: &out)
        }
        return out + "}"
    }

    /// `s` as a JSON string: quotes, backslashes and control characters escaped.
    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + String(scalar.value >> 4, radix: 16) + String(scalar.value & 0xF, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// One encoder for every record (`encode` is safe to call concurrently).
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }
}
