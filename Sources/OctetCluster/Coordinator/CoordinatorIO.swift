import Foundation

/// A reply of stored results the core asked for (`CoordinatorAction.serveResults`): the batch's
/// header as the core filled it, and the done tasks whose results follow, as many as fit `maxBytes`.
public struct ResultsServing: Sendable {
    public var peer: PeerID
    public var requestID: UInt64
    public var batch: Octet_Wire_ResultsBatch
    public var tasks: Range<Int>
    public var maxBytes: Int
}

/// What a read or blob action comes to (`CoordinatorIO.reply`): the reply to send, or a refusal,
/// which the core counts and sends like any refused message (`CoordinatorEvent.refused`).
public enum IOReply: Sendable {
    case send(PeerID, [UInt8])
    case refuse(PeerID, requestID: UInt64, WireError)
}

/// Carries out the coordinator core's I/O actions against its job store and blob store: the one
/// place that does, for the process's driver (`Coordinator`, on its I/O thread) and for the
/// simulator alike. Every failure becomes an answer (a refusal for the core to send, or the
/// error of a write for `CoordinatorEvent.persistFailed`); nothing is swallowed.
public struct CoordinatorIO: Sendable {
    public let store: JobStore
    public let blobs: BlobStore
    public let maxBlobBytes: UInt64

    public init(store: JobStore, blobs: BlobStore, maxBlobBytes: UInt64) {
        self.store = store
        self.blobs = blobs
        self.maxBlobBytes = maxBlobBytes
    }

    /// Writes `changes` in one transaction; the error's description when it fails (nothing is written).
    public func write(_ changes: [StoreWrite]) -> String? {
        do {
            try store.apply(changes)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The answer to a read or blob action (`serveResults`, `serveBlob`, `storeBlob`), for the
    /// message loop; nil for any other action.
    public func reply(_ action: CoordinatorAction) -> IOReply? {
        let peer: PeerID, rid: UInt64, answer: Result<[UInt8], WireError>
        switch action {
        case .serveResults(let s): (peer, rid, answer) = (s.peer, s.requestID, results(s))
        case .serveBlob(let p, let r, let request): (peer, rid, answer) = (p, r, chunk(request, r))
        case .storeBlob(let p, let r, let put): (peer, rid, answer) = (p, r, stored(put, r))
        case .send, .persist, .prepare, .finalize, .ended: return nil
        }
        switch answer {
        case .success(let bytes): return .send(peer, bytes)
        case .failure(let error): return .refuse(peer, requestID: rid, error)
        }
    }

    func results(_ s: ResultsServing) -> Result<[UInt8], WireError> {
        var batch = s.batch, bytes = 0
        var unreadable: Int?
        do {
            try store.results(job: batch.jobID, in: s.tasks) { index, stored in
                guard let stored, let r = try? Octet_Wire_TaskResult(serializedBytes: stored) else {
                    unreadable = index
                    return false
                }
                // The reply stays well inside the message limit.
                if index > s.tasks.lowerBound, bytes + stored.count > s.maxBytes { return false }
                bytes += stored.count
                batch.results.append(r)
                return true
            }
        } catch {
            return .failure(.transport("cannot read the results of tasks \(s.tasks) of job \(batch.jobID): \(error)"))
        }
        if let unreadable { return .failure(.transport("task \(unreadable) of job \(batch.jobID) has no readable stored result")) }
        return .success(WireProtocol.encode(.resultsBatch(batch), requestID: s.requestID))
    }

    func chunk(_ r: Octet_Wire_BlobRequest, _ rid: UInt64) -> Result<[UInt8], WireError> {
        do {
            let (data, total) = try blobs.read(r.hash, offset: r.offset, length: Int(r.length))
            var c = Octet_Wire_BlobChunk()
            c.hash = r.hash
            c.offset = r.offset
            c.totalSize = total
            c.data = Data(data)
            return .success(WireProtocol.encode(.blobChunk(c), requestID: rid))
        } catch {
            return .failure(error)
        }
    }

    func stored(_ p: Octet_Wire_BlobPut, _ rid: UInt64) -> Result<[UInt8], WireError> {
        do {
            return .success(WireProtocol.encode(.blobAck(try blobs.receive(p, maxSize: maxBlobBytes)), requestID: rid))
        } catch {
            return .failure(error)
        }
    }
}
