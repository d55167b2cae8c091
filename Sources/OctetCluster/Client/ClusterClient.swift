import OctetCore
import Foundation

/// The CLI's side of the protocol: uploads models and images, submits jobs, follows them and
/// downloads their artifacts. Every call is one request and its reply, matched by request id.
public final class ClusterClient {
    let transport: ClientTransport
    /// How long to wait for one reply.
    public var timeoutSeconds: Double
    private var nextRequest: UInt64 = 1

    public init(transport: ClientTransport, timeoutSeconds: Double = 30) {
        self.transport = transport
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends `body` and returns the reply's body; a Refusal becomes `WireError.refused`.
    /// `resendAfter`: for a request that may be repeated without harm (a query), it is sent again
    /// when no reply came in that many seconds, so a request lost to a coordinator restart is not
    /// waited on until the timeout.
    public func request(_ body: Octet_Wire_Envelope.OneOf_Body, resendAfter: Double? = nil) throws(WireError) -> Octet_Wire_Envelope.OneOf_Body {
        let id = nextRequest
        nextRequest += 1
        let message = WireProtocol.encode(body, requestID: id)
        try transport.send(message)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var resendAt = resendAfter.map { Date().addingTimeInterval($0) }
        while Date() < deadline {
            if let at = resendAt, let every = resendAfter, Date() >= at {
                try transport.send(message)
                resendAt = Date().addingTimeInterval(every)
            }
            guard let bytes = try transport.receive(timeoutMs: 100) else { continue }
            let e = try WireProtocol.decode(bytes, maxBytes: Int.max)
            guard e.requestID == id else { continue }  // a stale reply to an earlier, timed-out request
            if case .refusal(let r) = e.body { throw .refused(r.reason, r.message) }
            guard let b = e.body else { throw .malformed("empty reply") }
            return b
        }
        throw .timeout("no reply from the coordinator within \(Int(timeoutSeconds)) s (is it running, and are the keys right?)")
    }

    /// Uploads `bytes` in chunks unless the coordinator already has them; returns their hash.
    @discardableResult
    public func upload(_ bytes: [UInt8]) throws(WireError) -> String {
        let hash = ContentHash.sha256(bytes)
        var offset = 0
        repeat {
            var p = Octet_Wire_BlobPut()
            p.hash = hash
            p.offset = UInt64(offset)
            p.totalSize = UInt64(bytes.count)
            let end = min(bytes.count, offset + WireProtocol.blobChunkBytes)
            p.data = Data(bytes[offset..<end])
            guard case .blobAck(let ack) = try request(.blobPut(p)) else { throw .malformed("expected a BlobAck") }
            if ack.complete { return hash }
            offset = Int(ack.received)
        } while offset < bytes.count
        throw .malformed("upload of \(hash) ended without completion")
    }

    /// Uploads many blobs (`--ship-data`'s images) with up to `window` one-chunk uploads in
    /// flight, instead of one round trip after another; larger blobs go one at a time (`upload`).
    /// Returns the hashes in order. A refusal names the blob (`name`, a file name for the user).
    public func uploadMany(_ blobs: [(name: String, bytes: [UInt8])], window: Int = 64) throws(WireError) -> [String] {
        var hashes = [String](repeating: "", count: blobs.count)
        var inFlight: [UInt64: Int] = [:]  // request id → blob index
        var next = 0
        var deadline = Date().addingTimeInterval(timeoutSeconds)
        while next < blobs.count || !inFlight.isEmpty {
            while next < blobs.count, inFlight.count < max(window, 1) {
                let bytes = blobs[next].bytes
                if bytes.count > WireProtocol.blobChunkBytes {
                    guard inFlight.isEmpty else { break }  // drain first: `upload` reads replies itself
                    do { hashes[next] = try upload(bytes) } catch {
                        if case .refused(let reason, let message) = error { throw .refused(reason, "\(blobs[next].name): \(message)") }
                        throw error
                    }
                    next += 1
                    continue
                }
                var p = Octet_Wire_BlobPut()
                p.hash = ContentHash.sha256(bytes)
                p.offset = 0
                p.totalSize = UInt64(bytes.count)
                p.data = Data(bytes)
                hashes[next] = p.hash
                let id = nextRequest
                nextRequest += 1
                try transport.send(WireProtocol.encode(.blobPut(p), requestID: id))
                inFlight[id] = next
                next += 1
            }
            guard !inFlight.isEmpty else { continue }
            guard Date() < deadline else {
                throw .timeout("no reply from the coordinator within \(Int(timeoutSeconds)) s for \(inFlight.count) uploads")
            }
            guard let bytes = try transport.receive(timeoutMs: 100) else { continue }
            let e = try WireProtocol.decode(bytes, maxBytes: Int.max)
            guard let index = inFlight.removeValue(forKey: e.requestID) else { continue }  // a stale reply
            deadline = Date().addingTimeInterval(timeoutSeconds)
            if case .refusal(let r) = e.body { throw .refused(r.reason, "\(blobs[index].name): \(r.message)") }
            guard case .blobAck(let ack) = e.body, ack.complete else { throw .malformed("the upload of \(blobs[index].name) did not complete in one chunk") }
        }
        return hashes
    }

    public func uploadFile(_ path: String) throws -> String {
        guard let d = FileManager.default.contents(atPath: path) else { throw WireError.transport("cannot read \(path)") }
        return try upload([UInt8](d))
    }

    public func download(_ hash: String) throws(WireError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var r = Octet_Wire_BlobRequest()
            r.hash = hash
            r.offset = UInt64(out.count)
            r.length = UInt32(WireProtocol.blobChunkBytes)
            guard case .blobChunk(let c) = try request(.blobRequest(r)) else { throw .malformed("expected a BlobChunk") }
            out += c.data
            if UInt64(out.count) >= c.totalSize || c.data.isEmpty { break }
        }
        guard ContentHash.sha256(out) == hash else { throw .malformed("downloaded blob does not match its hash \(hash)") }
        return out
    }

    public func submit(_ spec: JobSpec) throws(WireError) -> String {
        var s = Octet_Wire_SubmitJob()
        s.spec = spec.wire
        guard case .accepted(let a) = try request(.submit(s)) else { throw .malformed("expected JobAccepted") }
        return a.jobID
    }

    public func job(_ id: String) throws(WireError) -> Octet_Wire_JobReport {
        var q = Octet_Wire_JobQuery()
        q.jobID = id
        guard case .jobReport(let r) = try request(.jobQuery(q), resendAfter: 1) else { throw .malformed("expected JobReport") }
        return r
    }

    public func status() throws -> ClusterStatus {
        guard case .statusReport(let r) = try request(.statusQuery(Octet_Wire_StatusQuery())) else { throw WireError.malformed("expected StatusReport") }
        return try JSONDecoder().decode(ClusterStatus.self, from: Data(r.statusJson.utf8))
    }

    /// Polls until the job is done or failed, reporting progress.
    public func wait(_ id: String, poll: Double = 0.25, progress: (Octet_Wire_JobReport) -> Void = { _ in }) throws -> Octet_Wire_JobReport {
        while true {
            let r = try job(id)
            progress(r)
            if r.state == JobRecord.State.done.rawValue || r.state == JobRecord.State.failed.rawValue { return r }
            Thread.sleep(forTimeInterval: poll)
        }
    }

    /// One batch of a streaming job's (inference) finished results from task `from` on; asking commits
    /// every task below `from` (see `ResultsQuery`).
    public func results(_ id: String, from: Int, maxTasks: Int = 64) throws(WireError) -> Octet_Wire_ResultsBatch {
        var q = Octet_Wire_ResultsQuery()
        q.jobID = id
        q.fromTask = UInt32(clamping: from)
        q.maxTasks = UInt32(clamping: maxTasks)
        guard case .resultsBatch(let b) = try request(.resultsQuery(q), resendAfter: 1) else { throw .malformed("expected ResultsBatch") }
        guard b.jobID == id, Int(b.firstTask) == from else { throw .malformed("results of \(b.jobID) from task \(b.firstTask), asked \(id) from \(from)") }
        return b
    }

    /// Streams streaming job `id`'s results into `output` in task order as the lines `lines`
    /// makes of each (the job handler's output format), committing each batch before asking
    /// for the next (which tells the coordinator it may drop them), until every task is
    /// written. Returns the last batch (the job's final state). A failed job throws its error;
    /// lines already committed stay.
    public func streamResults(_ id: String, into output: CommittedOutput, maxTasks: Int = 64, poll: Double = 0.02,
                              lines: (Octet_Wire_TaskResult) throws -> [String],
                              progress: (Octet_Wire_ResultsBatch) -> Void = { _ in }) throws -> Octet_Wire_ResultsBatch {
        while true {
            let b = try results(id, from: output.log.tasks, maxTasks: maxTasks)
            progress(b)
            if b.state == JobRecord.State.failed.rawValue { throw JobFailure("job \(id) failed: \(b.error)") }
            if !b.results.isEmpty {
                try output.commit(lines: try b.results.flatMap(lines), tasks: b.results.count)
                continue
            }
            // Done and all written: the last query (from the total) also released the results.
            if b.state == JobRecord.State.done.rawValue, output.log.tasks >= Int(b.tasksTotal) { return b }
            Thread.sleep(forTimeInterval: poll)
        }
    }

    /// Downloads every artifact of a finished job into `directory`; returns the paths written.
    public func fetchArtifacts(_ report: Octet_Wire_JobReport, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try report.artifacts.map { a in
            guard !a.name.contains("/"), a.name != "..", !a.name.isEmpty else { throw WireError.malformed("artifact name '\(a.name)'") }
            let path = (directory as NSString).appendingPathComponent(a.name)
            try Data(try download(a.hash)).write(to: URL(fileURLWithPath: path))
            return path
        }
    }
}
