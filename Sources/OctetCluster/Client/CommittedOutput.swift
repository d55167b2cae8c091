import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An inference job's output file, written exactly once across crashes. Lines are appended and
/// flushed to disk, then the commit log `OUT.commit` is replaced atomically (written beside,
/// flushed, renamed) with the tasks and bytes now in the file. A resumed writer truncates the
/// file to the committed bytes, dropping lines appended after the last commit, and continues
/// from the committed task, so no line is lost or written twice.
public final class CommittedOutput {
    /// What the commit log records.
    public struct Log: Codable, Equatable, Sendable {
        public var job: String
        /// The INT8 model's content hash (a resume with another model is refused).
        public var modelHash: String
        /// Tasks whose lines are all in the file.
        public var tasks: Int
        public var lines: Int
        public var bytes: UInt64
    }

    public let path: String
    public private(set) var log: Log
    private let fd: Int32

    /// Where the commit log of `path` lives.
    public static func logPath(_ path: String) -> String { path + ".commit" }

    /// A new output for `job`, replacing any file at `path`.
    public init(creating path: String, job: String, modelHash: String) throws {
        self.path = path
        log = Log(job: job, modelHash: modelHash, tasks: 0, lines: 0, bytes: 0)
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError.io("cannot create \(path): \(String(cString: strerror(errno)))") }
        try writeLog()
    }

    /// Reopens the output at `path` to continue its job from the commit log.
    public init(resuming path: String) throws {
        self.path = path
        let logPath = Self.logPath(path)
        guard let data = FileManager.default.contents(atPath: logPath) else {
            throw OutputError.noCommitLog("\(logPath) does not exist: nothing to resume (run without --resume to start the job)")
        }
        do { log = try JSONDecoder().decode(Log.self, from: data) } catch {
            throw OutputError.noCommitLog("\(logPath) is not a commit log: \(error)")
        }
        guard log.tasks >= 0, log.lines >= 0, log.bytes <= UInt64(Int64.max) else {
            throw OutputError.noCommitLog("\(logPath) records negative or impossible counts: it is not a commit log this client wrote")
        }
        fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_size) >= log.bytes else {
            close(fd)
            throw OutputError.io("\(path) is shorter than the \(log.bytes) bytes its commit log records: it was changed since")
        }
        // Lines after the last commit were not acknowledged: they come again.
        guard ftruncate(fd, off_t(log.bytes)) == 0, lseek(fd, off_t(log.bytes), SEEK_SET) >= 0 else {
            close(fd)
            throw OutputError.io("cannot truncate \(path) to its committed \(log.bytes) bytes: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Appends `lines` (one per sample, no newlines) as the output of the next `tasks` tasks and
    /// commits them: on return they survive a crash, and the commit log says so.
    public func commit(lines: [String], tasks: Int) throws {
        var bytes = [UInt8]()
        for l in lines { bytes += l.utf8; bytes.append(0x0A) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OutputError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fsync(fd) == 0 else { throw OutputError.io("cannot flush \(path): \(String(cString: strerror(errno)))") }
        log.tasks += tasks
        log.lines += lines.count
        log.bytes += UInt64(bytes.count)
        try writeLog()
    }

    /// Replaces the commit log atomically: a crash leaves the old log or the new one.
    private func writeLog() throws {
        let target = Self.logPath(path), temp = target + ".tmp"
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let data = [UInt8](try e.encode(log))
        let t = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard t >= 0 else { throw OutputError.io("cannot write \(temp): \(String(cString: strerror(errno)))") }
        let n = data.withUnsafeBytes { write(t, $0.baseAddress!, data.count) }
        close(t)
        guard n == data.count else { throw OutputError.io("cannot write \(temp): \(String(cString: strerror(errno)))") }
        try Self.publish(temp, as: target)
    }

    /// Makes the file written at `temp` durable under the name `target`: flushes it, renames it
    /// (atomic: a crash leaves the old file or the new one) and flushes the folder's entry.
    public static func publish(_ temp: String, as target: String) throws {
        let fd = open(temp, O_RDONLY | O_CLOEXEC)
        let synced = fd >= 0 && fsync(fd) == 0
        if fd >= 0 { close(fd) }
        guard synced, rename(temp, target) == 0 else { throw OutputError.io("cannot commit \(target): \(String(cString: strerror(errno)))") }
        let folder = (target as NSString).deletingLastPathComponent
        let dir = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }
}

/// Why an output cannot be written or resumed.
public enum OutputError: Error, CustomStringConvertible, Sendable {
    case noCommitLog(String)
    case io(String)
    case mismatch(String)

    public var description: String {
        switch self {
        case .noCommitLog(let m), .io(let m), .mismatch(let m): m
        }
    }
}
