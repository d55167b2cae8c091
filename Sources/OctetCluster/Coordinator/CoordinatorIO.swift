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

/// Carries out the coordinator core's I/O actions against its job store and blob store: the one
/// place that does, for the process's driver (`Coordinator`, on its I/O thread) and for the
/// simulator alike. Every failure becomes an answer (a refusal to the peer, or the error of a
/// write for `CoordinatorEvent.persistFailed`); nothing is swallowed.
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

    /// The reply to a read or blob action (`serveResults`, `serveBlob`, `storeBlob`), to send on
    /// the message loop; nil for any other action.
    public func reply(_ action: CoordinatorAction) -> (PeerID, [UInt8])? {
        switch action {
        case .serveResults(let s): (s.peer, results(s))
        case .serveBlob(let peer, let rid, let r): (peer, chunk(r, rid))
        case .storeBlob(let peer, let rid, let p): (peer, stored(p, rid))
        case .send, .persist, .prepare, .finalize, .ended: nil
        }
    }

    func results(_ s: ResultsServing) -> [UInt8] {
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
            return refusal(.transport("cannot read the results of tasks \(s.tasks) of job \(batch.jobID): \(error)"), s.requestID)
        }
        if let unreadable { return refusal(.transport("task \(unreadable) of job \(batch.jobID) has no readable stored result"), s.requestID) }
        return WireProtocol.encode(.resultsBatch(batch), requestID: s.requestID)
    }

    func chunk(_ r: Octet_Wire_BlobRequest, _ rid: UInt64) -> [UInt8] {
        do {
            let (data, total) = try blobs.read(r.hash, offset: r.offset, length: Int(r.length))
            var c = Octet_Wire_BlobChunk()
            c.hash = r.hash
            c.offset = r.offset
            c.totalSize = total
            c.data = Data(data)
            return WireProtocol.encode(.blobChunk(c), requestID: rid)
        } catch {
            return refusal(error, rid)
        }
    }

    func stored(_ p: Octet_Wire_BlobPut, _ rid: UInt64) -> [UInt8] {
        do {
            return WireProtocol.encode(.blobAck(try blobs.receive(p, maxSize: maxBlobBytes)), requestID: rid)
        } catch {
            return refusal(error, rid)
        }
    }

    func refusal(_ error: WireError, _ rid: UInt64) -> [UInt8] {
        WireProtocol.encode(WireProtocol.refusal(error), requestID: rid)
    }
}
