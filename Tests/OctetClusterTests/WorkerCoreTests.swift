import OctetCore
import Foundation
import OctetCluster
import XCTest

/// The worker's state machine driven directly: joining, fetching a task's blobs chunk by chunk
/// into the cache, computing, and refusing to run against a coordinator of another version.
final class WorkerCoreTests: XCTestCase {
    var clock = 0.0
    var core: WorkerCore!
    var cache: BlobStore!

    override func setUpWithError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-worker-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        cache = try BlobStore(directory: dir.path)
        var hello = Octet_Wire_Hello()
        hello.workerID = "w"
        core = WorkerCore(hello: hello, cache: cache, now: { [unowned self] in clock })
    }

    /// `core.handle(event)` with its chunk writes carried out at once, as the driver's I/O queue
    /// does, and fed back (`.chunkStored`).
    func drive(_ core: inout WorkerCore, _ event: WorkerEvent) -> [WorkerAction] {
        var out: [WorkerAction] = []
        for a in core.handle(event) {
            guard case .storeChunk(let put) = a else {
                out.append(a)
                continue
            }
            let result: Result<Octet_Wire_BlobAck, WireError>
            do throws(WireError) { result = .success(try cache.receive(put, maxSize: core.maxBlobBytes)) } catch { result = .failure(error) }
            out += drive(&core, .chunkStored(hash: put.hash, offset: put.offset, result))
        }
        return out
    }

    func handle(_ event: WorkerEvent) -> [WorkerAction] { drive(&core!, event) }

    /// A fetched chunk is written by the driver (`.storeChunk`), not on the message loop: while
    /// it is written, heartbeats go on, a duplicate of the chunk and the fetch retry wait, and
    /// its acknowledgment asks for the next chunk.
    func testChunkWritesAreActionsAndHeartbeatsDoNotWaitForThem() throws {
        _ = handle(.message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        let blob = [UInt8](repeating: 3, count: WireProtocol.blobChunkBytes + 5)
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.blobs = [ContentHash.sha256(blob)]
        _ = handle(.message(WireProtocol.encode(.assignment(a))))
        var chunk = Octet_Wire_BlobChunk()
        chunk.hash = a.blobs[0]
        chunk.totalSize = UInt64(blob.count)
        chunk.data = Data(blob[0..<WireProtocol.blobChunkBytes])
        let store = core.handle(.message(WireProtocol.encode(.blobChunk(chunk))))
        guard store.count == 1, case .storeChunk(let put) = store[0] else { return XCTFail("expected the chunk handed to the driver, got \(store)") }
        XCTAssertEqual(put.offset, 0)
        XCTAssertTrue(core.handle(.message(WireProtocol.encode(.blobChunk(chunk)))).isEmpty, "a duplicate waits for the write")
        clock += WorkerCore.fetchRetrySeconds + 1
        XCTAssertEqual(bodies(core.handle(.tick)).map { "\($0)".hasPrefix("heartbeat") }, [true], "a heartbeat and no fetch retry while the chunk is written")
        let ack = try cache.receive(put, maxSize: core.maxBlobBytes)
        guard case .blobRequest(let next)? = bodies(core.handle(.chunkStored(hash: put.hash, offset: put.offset, .success(ack)))).first else {
            return XCTFail("expected the next chunk asked for")
        }
        XCTAssertEqual(next.offset, UInt64(WireProtocol.blobChunkBytes))
    }

    func bodies(_ actions: [WorkerAction]) -> [Octet_Wire_Envelope.OneOf_Body] {
        actions.compactMap { if case .send(let b) = $0 { try? WireProtocol.decode(b).body } else { nil } }
    }

    func testJoinFetchComputeAndWrongVersion() throws {
        XCTAssertEqual(bodies(handle(.tick)).count, 1)          // Hello
        clock += 0.5
        XCTAssertTrue(handle(.tick).isEmpty)                    // not yet: Hello once a second
        clock += 0.6
        guard case .hello? = bodies(handle(.tick)).first else { return XCTFail("expected Hello") }
        _ = handle(.message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        XCTAssertTrue(core.joined)

        // A task whose model is not cached: the worker asks for it chunk by chunk.
        let model = [UInt8](repeating: 7, count: WireProtocol.blobChunkBytes + 10)
        let hash = ContentHash.sha256(model)
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.blobs = [hash]
        guard case .blobRequest(let r1)? = bodies(handle(.message(WireProtocol.encode(.assignment(a))))).first else { return XCTFail() }
        XCTAssertEqual(r1.offset, 0)
        var chunk = Octet_Wire_BlobChunk()
        chunk.hash = hash
        chunk.totalSize = UInt64(model.count)
        chunk.data = Data(model[0..<WireProtocol.blobChunkBytes])
        guard case .blobRequest(let r2)? = bodies(handle(.message(WireProtocol.encode(.blobChunk(chunk))))).first else { return XCTFail() }
        XCTAssertEqual(r2.offset, UInt64(WireProtocol.blobChunkBytes))
        chunk.offset = r2.offset
        chunk.data = Data(model[WireProtocol.blobChunkBytes...])
        let done = handle(.message(WireProtocol.encode(.blobChunk(chunk))))
        guard case .compute(let task)? = done.first else { return XCTFail("expected compute, got \(done)") }
        XCTAssertEqual(task.jobID, "j")
        XCTAssertTrue(cache.contains(hash))

        var result = Octet_Wire_TaskResult()
        result.jobID = "j"
        guard case .result? = bodies(handle(.computed(.success(result)))).first else { return XCTFail("expected the result sent") }

        // A coordinator of another protocol version: the worker stops with a clear error.
        var refusal = Octet_Wire_Refusal()
        refusal.reason = .wrongVersion
        refusal.expectedVersion = WireProtocol.version + 1
        refusal.message = "protocol version 1 is not supported"
        let actions = handle(.message(WireProtocol.encode(.refusal(refusal))))
        guard case .fail(let message)? = actions.first else { return XCTFail("expected fail, got \(actions)") }
        XCTAssertTrue(message.contains("run the same Octet version"), message)
    }

    /// The worker bounds what it accepts: a blob announced larger than its limit fails the task
    /// (not permanently: another worker may take it) with the reason, and assignments beyond its
    /// queue are handed back.
    func testOversizedBlobsAndFloodedAssignmentsAreRefused() throws {
        var hello = Octet_Wire_Hello()
        hello.workerID = "w"
        var small = WorkerCore(hello: hello, cache: cache, maxBlobBytes: 1000, maxMessageBytes: 4096, now: { [unowned self] in clock })
        _ = drive(&small, .message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        // A message past the worker's limit is dropped unread: no task is queued.
        var oversized = Octet_Wire_TaskAssignment()
        oversized.jobID = "j"
        oversized.context = Data(repeating: 1, count: 5000)
        oversized.blobs = [ContentHash.sha256([9])]
        XCTAssertTrue(drive(&small, .message(WireProtocol.encode(.assignment(oversized)))).isEmpty)
        XCTAssertNil(small.current)
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.blobs = [ContentHash.sha256([1, 2, 3])]
        guard case .blobRequest? = bodies(drive(&small, .message(WireProtocol.encode(.assignment(a))))).first else { return XCTFail() }
        var chunk = Octet_Wire_BlobChunk()
        chunk.hash = a.blobs[0]
        chunk.totalSize = 1 << 40
        chunk.data = Data([1, 2, 3])
        guard case .failure(let f)? = bodies(drive(&small, .message(WireProtocol.encode(.blobChunk(chunk))))).first else { return XCTFail("expected a failure") }
        XCTAssertFalse(f.permanent)
        XCTAssertTrue(f.message.contains("exceeds the 1000-byte limit"), f.message)
        XCTAssertNil(small.current)
        // A flood of assignments while one task computes: the ones beyond the queue go back.
        a.blobs = [ContentHash.sha256([])]
        try cache.put([UInt8]())
        var handedBack = 0
        for i in 0..<(WorkerCore.maxQueuedAssignments + 5) {
            a.task = UInt32(i)
            for body in bodies(drive(&small, .message(WireProtocol.encode(.assignment(a))))) {
                if case .failure(let f) = body { handedBack += 1; XCTAssertTrue(f.message.contains("queue full"), f.message) }
            }
        }
        XCTAssertEqual(handedBack, 4, "one computing, \(WorkerCore.maxQueuedAssignments) queued, the rest handed back")
    }

    /// With two tasks assigned, the second's blobs are fetched and its input prepared while the
    /// first computes, and it starts as soon as the first is done; a stop hands back what was
    /// not started.
    func testTheNextTaskIsFetchedAndPreparedWhileOneComputes() throws {
        _ = handle(.message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        let model = [UInt8](repeating: 1, count: 10), other = [UInt8](repeating: 2, count: 10)
        try cache.put(model)
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.kind = "inference"
        a.blobs = [ContentHash.sha256(model)]
        guard case .compute(let first)? = handle(.message(WireProtocol.encode(.assignment(a)))).first else { return XCTFail("expected compute") }
        XCTAssertEqual(first.task, 0)
        var b = a
        b.task = 1
        b.blobs = [ContentHash.sha256(other)]  // not cached: fetched while task 0 computes
        guard case .blobRequest? = bodies(handle(.message(WireProtocol.encode(.assignment(b))))).first else { return XCTFail("expected a fetch") }
        var chunk = Octet_Wire_BlobChunk()
        chunk.hash = b.blobs[0]
        chunk.totalSize = 10
        chunk.data = Data(other)
        let fetched = handle(.message(WireProtocol.encode(.blobChunk(chunk))))
        guard case .prepare(let next)? = fetched.first else { return XCTFail("expected task 1 prepared, got \(fetched)") }
        XCTAssertEqual(next.task, 1)
        var c = a
        c.task = 2
        XCTAssertTrue(handle(.message(WireProtocol.encode(.assignment(c)))).isEmpty, "task 2 waits: one computes, one is prepared")
        var result = Octet_Wire_TaskResult()
        result.jobID = "j"
        let done = handle(.computed(.success(result)))
        guard case .result? = bodies(done).first else { return XCTFail("expected the result sent") }
        XCTAssertTrue(done.contains { if case .compute(let t) = $0 { t.task == 1 } else { false } }, "task 1 starts at once: \(done)")
        XCTAssertTrue(done.contains { if case .prepare(let t) = $0 { t.task == 2 } else { false } }, "task 2 is prepared: \(done)")
        let stop = bodies(handle(.stop))
        guard case .failure(let f)? = stop.first else { return XCTFail("expected task 2 handed back, got \(stop)") }
        XCTAssertEqual(f.task, 2)
        XCTAssertEqual(stop.count, 1, "task 1 still computes: no goodbye yet")
        guard case .goodbye? = bodies(handle(.computed(.success(result)))).last else { return XCTFail("expected goodbye") }
    }

    /// A blob the coordinator does not have fails the task being fetched (not permanently); a
    /// NOT_FOUND refusal of something else (a result, request id 0) leaves the fetch alone.
    func testAMissingBlobHandsBackOnlyTheTaskItBelongsTo() throws {
        _ = handle(.message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.task = 7
        a.blobs = [String(repeating: "c", count: 64)]
        let sent = handle(.message(WireProtocol.encode(.assignment(a))))
        guard case .send(let bytes)? = sent.first, let request = try? WireProtocol.decode(bytes), case .blobRequest? = request.body else {
            return XCTFail("expected a blob request")
        }
        var refusal = Octet_Wire_Refusal()
        refusal.reason = .notFound
        refusal.message = "result for unknown task"
        XCTAssertTrue(handle(.message(WireProtocol.encode(.refusal(refusal), requestID: 0))).isEmpty, "a refused result is not the fetch's")
        XCTAssertEqual(core.current?.task, 7)
        refusal.message = "no blob cccc…"
        guard case .failure(let f)? = bodies(handle(.message(WireProtocol.encode(.refusal(refusal), requestID: request.requestID)))).first else {
            return XCTFail("expected the task handed back")
        }
        XCTAssertEqual(f.task, 7)
        XCTAssertFalse(f.permanent)
        XCTAssertTrue(f.message.contains("cannot fetch a blob"), f.message)
        XCTAssertNil(core.current)
    }

    func testStopMidFetchHandsTheTaskBack() throws {
        _ = handle(.message(WireProtocol.encode(.welcome(Octet_Wire_Welcome()))))
        var a = Octet_Wire_TaskAssignment()
        a.jobID = "j"
        a.task = 3
        a.blobs = [String(repeating: "b", count: 64)]
        _ = handle(.message(WireProtocol.encode(.assignment(a))))
        let actions = handle(.stop)
        let sent = bodies(actions)
        guard case .failure(let f)? = sent.first else { return XCTFail("expected the task handed back") }
        XCTAssertEqual(f.task, 3)
        XCTAssertFalse(f.permanent)
        guard case .goodbye? = sent.last else { return XCTFail("expected goodbye") }
        XCTAssertTrue(actions.contains { if case .exit = $0 { true } else { false } })
    }
}
