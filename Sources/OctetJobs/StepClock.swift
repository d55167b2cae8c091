import Dispatch
import Foundation
import OctetCluster

/// The coordinator's own seconds per step of each job, reported in the job's last summary as
/// `coordinator_seconds` and `coordinator_steps`: the serial part of the job (since this
/// coordinator started), which bounds how well the job scales with workers.
final class StepClock: @unchecked Sendable {
    private let lock = NSLock()
    private var busy: [String: [String: Double]] = [:]

    /// Adds the time since `t0` (`DispatchTime` nanoseconds) to `job`'s `step`.
    func add(_ job: String, _ step: String, since t0: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        lock.lock(); busy[job, default: [:]][step, default: 0] += seconds; lock.unlock()
    }

    /// `f` (a job's last finalization) with the job's steps, the time since `t0` added to
    /// `step`, in its summary; the job's clock is dropped.
    func finish(_ f: FinalizedJob, _ job: String, _ step: String, since t0: UInt64) -> FinalizedJob {
        add(job, step, since: t0)
        lock.lock()
        let steps = busy.removeValue(forKey: job) ?? [:]
        lock.unlock()
        var f = f
        var summary = (try? JSONSerialization.jsonObject(with: Data((f.summary ?? "{}").utf8))) as? [String: Any] ?? [:]
        summary["coordinator_seconds"] = steps.values.reduce(0, +)
        summary["coordinator_steps"] = steps
        if let data = try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]) { f.summary = String(decoding: data, as: UTF8.self) }
        return f
    }

    /// Forgets `job` (it failed).
    func drop(_ job: String) {
        lock.lock(); busy[job] = nil; lock.unlock()
    }
}

/// Helpers both job handlers use.
enum JobTasks {
    /// Consecutive ranges of at most `size` samples, numbered from `first`; each task reads
    /// `extra` and the shipped `files` of its samples (`DatasetSpec.blobs`).
    static func split(_ range: Range<Int>, size: Int, job: String, kind: String, first: Int,
                      dataset: DatasetSpec, files: [DatasetSpec.ShippedFile]?, extra: [String] = []) -> [TaskRecord] {
        stride(from: range.lowerBound, to: range.upperBound, by: max(size, 1)).enumerated().map { i, start in
            let end = min(start + max(size, 1), range.upperBound)
            return TaskRecord(job: job, index: first + i, kind: kind, start: start, end: end,
                              blobs: extra + dataset.blobs(for: start..<end, of: files))
        }
    }

    /// The shipped files of `dataset` (nil for a shared path), each checked to be in `blobs`: a
    /// file the client did not upload fails the job naming it, before any task runs.
    static func shippedFiles(_ dataset: DatasetSpec, in blobs: BlobStore) throws -> [DatasetSpec.ShippedFile]? {
        let files = try dataset.shippedFiles(blobPath: blobs.path)
        if let missing = files?.first(where: { !blobs.contains($0.hash) }) {
            throw JobFailure("shipped file \(missing.name) (\(missing.hash)) was not uploaded")
        }
        return files
    }

    static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? String(decoding: e.encode(v), as: UTF8.self)) ?? "{}"
    }

    /// A readable message for any error (our typed errors describe themselves).
    static func describe(_ error: any Error) -> String {
        String(describing: error)
    }
}
