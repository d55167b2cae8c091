import Foundation
import OctetCalibration
import OctetCluster
import OctetData
import OctetJobs
import OctetPipeline
import OctetTestSupport
import XCTest

/// The coordinator's state machine driven directly, with a fake clock: joining, dispatch,
/// liveness, reassignment, idempotent results, refusals.
final class CoordinatorCoreTests: XCTestCase {
    var clock = 1000.0
    var core: CoordinatorCore!
    var io: CoordinatorIO!
    var dir: URL!
    let w1 = PeerID([1]), w2 = PeerID([2]), client = PeerID([9])

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-core-\(UUID().uuidString)")
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(at: dir!) }
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = 5
        settings.maxTaskAttempts = 3
        core = try makeCore(settings, "db")
    }

    /// A core with Octet's job handlers (preparation and finalization are fed by the tests), and
    /// `io` on its store.
    func makeCore(_ settings: CoordinatorSettings, _ name: String) throws -> CoordinatorCore {
        let store = try JobStore(path: dir.appendingPathComponent(name).path)
        let blobs = try BlobStore(directory: dir.appendingPathComponent("blobs").path)
        io = CoordinatorIO(store: store, blobs: blobs, maxBlobBytes: settings.maxBlobBytes)
        return CoordinatorCore(settings: settings, blobs: blobs,
                               handlers: JobKinds.handlers(blobs: blobs, store: store, directory: dir.path, threads: 1, isa: .scalar),
                               now: { [unowned self] in clock }, uptime: { [unowned self] in clock })
    }

    /// `handle(event)` with its I/O carried out at once, in order (`CoordinatorIO`): writes
    /// applied (a failure fed back), reads and blob actions turned into their replies.
    func handle(_ event: CoordinatorEvent) -> [CoordinatorAction] {
        var out: [CoordinatorAction] = []
        for a in core.handle(event) {
            if case .persist(let writes) = a {
                if let error = io.write(writes) { out += handle(.persistFailed(writes, error)) }
            } else if let answer = io.reply(a) {
                switch answer {
                case .send(let peer, let bytes): out.append(.send(peer, bytes))
                case .refuse(let peer, let rid, let error): out += handle(.refused(peer, requestID: rid, error))
                }
            } else {
                out.append(a)
            }
        }
        return out
    }

    /// A submit of `options` on `model`.
    func submit<Options: JobOptions>(_ options: Options, model: String) -> Octet_Wire_Envelope.OneOf_Body {
        var s = Octet_Wire_SubmitJob()
        s.spec = options.spec(modelHash: model, modelName: "m").wire
        return .submit(s)
    }

    func send(_ peer: PeerID, _ body: Octet_Wire_Envelope.OneOf_Body) -> [CoordinatorAction] {
        handle(.message(peer, WireProtocol.encode(body)))
    }

    func sent(_ actions: [CoordinatorAction]) -> [(PeerID, Octet_Wire_Envelope)] {
        actions.compactMap { a in
            guard case .send(let p, let bytes) = a, let e = try? WireProtocol.decode(bytes) else { return nil }
            return (p, e)
        }
    }

    func hello(_ peer: PeerID, _ id: String) -> [CoordinatorAction] {
        var h = Octet_Wire_Hello()
        h.workerID = id
        h.isa = "scalar"
        return send(peer, .hello(h))
    }

    /// Submits a calibration job over 3 shards and returns its id.
    func runningJob() throws -> String {
        try preparedJob { job in (0..<3).map { TaskRecord(job: job, index: $0, kind: CalibrationTask.calibration.rawValue, start: $0 * 10, end: $0 * 10 + 10) } }
    }

    /// Submits a calibration job, prepares it with `tasks` (watching "t") and returns its id.
    func preparedJob(context: CalibrationJobContext = CalibrationJobContext(isa: "scalar", watched: ["t"]), _ tasks: (String) -> [TaskRecord]) throws -> String {
        let model = try core.blobs.put(Array("model".utf8))
        let options = CalibrationJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .imagenet),
                                            calibration: QuantConfig())
        let actions = send(client, submit(options, model: model))
        guard case .accepted(let a)? = sent(actions).first?.1.body else {
            XCTFail("the submit was not accepted: \(actions)")
            throw CancellationError()
        }
        XCTAssertTrue(actions.contains { if case .prepare = $0 { true } else { false } })
        _ = handle(.prepared(a.jobID, .success(PreparedJob(tasks: tasks(a.jobID), context: context.encoded,
                                                                               requirement: "scalar"))))
        return a.jobID
    }

    func result(_ job: String, _ task: Int, worker: String) -> Octet_Wire_Envelope.OneOf_Body {
        var h = AbsHistogram()
        h.add([Float(task), 1, 2], isa: .scalar)
        var r = Octet_Wire_TaskResult()
        r.jobID = job
        r.task = UInt32(task)
        r.workerID = worker
        r.payload = Compression.pack(HistogramSet.encode(["t": h]))
        return .result(r)
    }

    /// The names of `actions`, in order ("persist", "send", ...).
    func names(_ actions: [CoordinatorAction]) -> [String] {
        actions.map { String(describing: $0).split(separator: "(").first.map(String.init) ?? "" }
    }

    /// The core writes nothing itself: every change comes back as one `.persist`, ahead of the
    /// replies and steps that depend on it (the accepted reply, the preparation, the
    /// finalization that reads the results), and a heartbeat asks for no write at all.
    func testWritesComeFirstAsActionsAndHeartbeatsWriteNothing() throws {
        let model = try core.blobs.put(Array("model".utf8))
        let options = CalibrationJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .imagenet), calibration: QuantConfig())
        let submitted = core.handle(.message(client, WireProtocol.encode(submit(options, model: model))))
        XCTAssertEqual(names(submitted), ["persist", "send", "prepare"])
        guard case .persist(let writes) = submitted.first, case .job(let stored)? = writes.first, writes.count == 1 else {
            return XCTFail("the submit's first action is not the job's write: \(submitted)")
        }
        XCTAssertEqual(stored.state, .preparing)
        XCTAssertNil(try io.store.jobs().first, "nothing is written until the driver carries out the write")
        XCTAssertNil(io.write(writes))
        let tasks = [TaskRecord(job: stored.id, index: 0, kind: CalibrationTask.calibration.rawValue, start: 0, end: 10)]
        XCTAssertEqual(names(core.handle(.prepared(stored.id, .success(PreparedJob(tasks: tasks, context: CalibrationJobContext(isa: "scalar", watched: ["t"]).encoded))))),
                       ["persist"])
        var h = Octet_Wire_Hello()
        h.workerID = "a"
        XCTAssertEqual(names(core.handle(.message(w1, WireProtocol.encode(.hello(h))))), ["persist", "send", "send"], "the assignment's write, the welcome, the assignment")
        var beat = Octet_Wire_Heartbeat()
        beat.workerID = "a"
        XCTAssertEqual(names(core.handle(.message(w1, WireProtocol.encode(.heartbeat(beat))))), [], "a heartbeat waits on no disk")
        let done = core.handle(.message(w1, WireProtocol.encode(result(stored.id, 0, worker: "a"))))
        XCTAssertEqual(names(done), ["persist", "finalize"])
        guard case .persist(let last) = done.first else { return }
        XCTAssertEqual(last.map(\.what), ["task 0's result", "the job's state"])
    }

    /// A write the driver could not carry out fails its job with the store's error as the
    /// cause; other jobs run on, and a finished job stays as it finished.
    func testAFailedWriteFailsItsJobWithTheStoresError() throws {
        let job = try runningJob(), other = try runningJob()
        _ = hello(w1, "a")
        guard let task = core.tasks[job]?[0] else { return XCTFail("no task") }
        _ = handle(.persistFailed([.complete(task, result: [1])], "disk I/O error (simulated)"))
        XCTAssertEqual(core.jobs[job]?.state, .failed)
        XCTAssertEqual(core.jobs[job]?.error, "cannot store task 0's result: disk I/O error (simulated)")
        XCTAssertEqual(core.jobs[other]?.state, .running)
        XCTAssertEqual(try io.store.jobs().first { $0.id == job }?.state, .failed, "the failure itself is stored when the disk allows")
        _ = handle(.persistFailed([.job(core.jobs[job]!)], "disk full"))
        XCTAssertEqual(core.jobs[job]?.error, "cannot store task 0's result: disk I/O error (simulated)", "a failed job keeps its first cause")
    }

    func testWorkersGetTasksAndLostWorkersTaskIsReassigned() throws {
        let job = try runningJob()
        XCTAssertEqual(sent(hello(w1, "a")).map { $0.1.body.map(CoordinatorCore.bodyName) }, ["welcome", "assignment"])
        let second = sent(hello(w2, "b"))
        XCTAssertEqual(second.last?.1.assignment.task, 1)
        XCTAssertEqual(core.workers["a"]?.task, TaskKey(job: job, index: 0))

        // b keeps heartbeating, a goes silent past the timeout.
        clock += 3
        _ = send(w2, .heartbeat(Octet_Wire_Heartbeat()))
        clock += 3
        _ = handle(.tick)
        XCTAssertEqual(core.workers["a"]?.state, .lost)
        XCTAssertEqual(core.tasks[job]?[0].state, .pending)

        // b finishes task 1 and is given the lost worker's task 0 (lowest index first).
        let next = sent(send(w2, result(job, 1, worker: "b")))
        XCTAssertEqual(next.first?.1.assignment.task, 0)
        XCTAssertEqual(try CalibrationJobContext(try XCTUnwrap(next.first?.1.assignment.context)).watched, ["t"])

        // a's late result for task 0 arrives first: accepted once (identical by determinism)...
        _ = send(w1, result(job, 0, worker: "a"))
        XCTAssertEqual(core.tasks[job]?[0].state, .done)
        // ...and b's copy is a duplicate, ignored.
        let dup = send(w2, result(job, 0, worker: "b"))
        XCTAssertEqual(core.duplicateResults, 1)
        XCTAssertEqual(sent(dup).first?.1.assignment.task, 2)

        // a heartbeat from the lost worker is refused until it says Hello again.
        let refused = sent(send(w1, .heartbeat(Octet_Wire_Heartbeat())))
        XCTAssertEqual(refused.first?.1.refusal.reason, .unknownWorker)

        let last = send(w2, result(job, 2, worker: "b"))
        XCTAssertTrue(last.contains { if case .finalize(let j, let tasks) = $0 { j.id == job && tasks.count == 3 } else { false } })
        // Finished results are in the store.
        XCTAssertEqual(try io.store.results(of: core.tasks[job]!).count, 3)
    }

    /// An assignment lost on the way (the worker keeps heartbeating but never runs it) goes back
    /// to the queue after `taskTimeout`, and the worker is given work again.
    func testATaskWithoutAResultPastTheTimeoutIsHandedOutAgain() throws {
        let job = try runningJob()
        _ = hello(w1, "a")
        XCTAssertEqual(core.workers["a"]?.task, TaskKey(job: job, index: 0))
        for _ in 0..<10 {
            clock += 1
            _ = send(w1, .heartbeat(Octet_Wire_Heartbeat()))
            XCTAssertTrue(sent(handle(.tick)).isEmpty, "nothing happens before the timeout")
        }
        clock += core.settings.taskTimeout
        _ = send(w1, .heartbeat(Octet_Wire_Heartbeat()))
        let again = sent(handle(.tick))
        XCTAssertEqual(core.workers["a"]?.state, .busy)
        XCTAssertEqual(again.first?.1.assignment.task, 0, "the lowest pending task again, to the idle worker")
        XCTAssertEqual(again.first?.1.assignment.attempt, 2)
        // The first holder's late result still completes it; the second is a duplicate.
        _ = send(w1, result(job, 0, worker: "a"))
        XCTAssertEqual(core.tasks[job]?[0].state, .done)
        XCTAssertEqual(core.acceptedResults, 1)
    }

    /// A task that kills its worker every time (the worker goes silent, reconnects, is given the
    /// task again) fails its job after `maxTaskAttempts` with the reason, and the next job runs.
    func testTaskThatKillsItsWorkerEveryTimeFailsItsJobAndTheClusterKeepsServing() throws {
        let poisoned = try runningJob()
        clock += 1
        let next = try runningJob()
        for attempt in 1...3 {
            let assigned = sent(hello(w1, "a")).compactMap { if case .assignment(let a)? = $0.1.body { a } else { nil } }
            XCTAssertEqual(assigned.map(\.jobID), [poisoned], "attempt \(attempt)")
            XCTAssertEqual(assigned.first?.task, 0)
            XCTAssertEqual(assigned.first?.attempt, UInt32(attempt))
            clock += 6                     // the worker dies with the task: no heartbeat
            _ = handle(.tick)
            XCTAssertEqual(core.workers["a"]?.state, .lost)
        }
        XCTAssertEqual(core.jobs[poisoned]?.state, .failed)
        let error = core.jobs[poisoned]?.error ?? ""
        XCTAssertTrue(error.contains("task 0 failed 3 times") && error.contains("worker a lost"), error)
        // The worker comes back and is given the other job's work.
        let assigned = sent(hello(w1, "a")).compactMap { if case .assignment(let a)? = $0.1.body { a } else { nil } }
        XCTAssertEqual(assigned.map(\.jobID), [next])
        XCTAssertEqual(core.jobs[next]?.state, .running)
    }

    /// Hellos queued behind a cut link arrive in a burst on the same connection: the worker keeps
    /// its tasks (no requeue, no attempt counted per Hello), while a Hello on a new connection (a
    /// restarted worker) requeues what the old one held.
    func testAHelloBurstOnOneConnectionKeepsTheWorkersTasks() throws {
        let job = try runningJob()
        _ = hello(w1, "a")
        XCTAssertEqual(core.workers["a"]?.task, TaskKey(job: job, index: 0))
        for _ in 0..<6 {
            let replies = sent(hello(w1, "a"))
            XCTAssertEqual(replies.map { $0.1.body.map(CoordinatorCore.bodyName) }, ["welcome"], "no task is handed out again")
        }
        XCTAssertEqual(core.tasks[job]?[0].attempts, 1)
        XCTAssertEqual(core.tasks[job]?[0].state, .assigned)
        XCTAssertEqual(core.workers["a"]?.tasks, [TaskKey(job: job, index: 0)])
        XCTAssertEqual(core.jobs[job]?.state, .running)
        // The same worker id from a new connection: the old one's task is requeued and handed out again.
        let restarted = sent(hello(PeerID([3]), "a")).compactMap { if case .assignment(let a)? = $0.1.body { a } else { nil } }
        XCTAssertEqual(restarted.first?.task, 0)
        XCTAssertEqual(restarted.first?.attempt, 2)
    }

    func testLateInvalidResultOrFailureLeavesTheTaskWithItsNewHolder() throws {
        let job = try runningJob()
        _ = hello(w1, "a")
        _ = hello(w2, "b")
        // a goes silent and loses task 0; b finishes task 1 and is given task 0.
        clock += 3
        _ = send(w2, .heartbeat(Octet_Wire_Heartbeat()))
        clock += 3
        _ = handle(.tick)
        XCTAssertEqual(sent(send(w2, result(job, 1, worker: "b"))).first?.1.assignment.task, 0)
        XCTAssertEqual(core.workers["b"]?.task, TaskKey(job: job, index: 0))

        // a comes back and reports task 0 late, first as a malformed result, then as a failure.
        _ = hello(w1, "a")
        var bad = Octet_Wire_TaskResult()
        bad.jobID = job
        bad.task = 0
        bad.workerID = "a"
        bad.payload.rawSize = 64
        bad.payload.lz4 = Data([1, 2, 3])
        XCTAssertEqual(sent(send(w1, .result(bad))).first?.1.refusal.reason, .invalidRequest)
        var failure = Octet_Wire_TaskFailure()
        failure.jobID = job
        failure.task = 0
        failure.workerID = "a"
        failure.message = "late"
        _ = send(w1, .failure(failure))
        // Task 0 stays with b (not requeued, not given to a as well), and b's result completes it.
        XCTAssertEqual(core.tasks[job]?[0].state, .assigned)
        XCTAssertEqual(core.tasks[job]?[0].worker, "b")
        XCTAssertEqual(core.tasks[job]?[0].attempts, 2)
        XCTAssertNotEqual(core.workers["a"]?.task, TaskKey(job: job, index: 0))
        _ = send(w2, result(job, 0, worker: "b"))
        XCTAssertEqual(core.tasks[job]?[0].state, .done)
        XCTAssertEqual(core.tasks[job]?[0].worker, "b")
        XCTAssertEqual(core.jobs[job]?.state, .running)
    }

    func testInvalidResultsAreRetriedThenFailTheJob() throws {
        let job = try runningJob()
        _ = hello(w1, "a")
        var wrong = AbsHistogram()
        wrong.add([1], isa: .scalar)
        var r = Octet_Wire_TaskResult()
        r.jobID = job
        r.task = 0
        r.payload = Compression.pack(HistogramSet.encode(["not-watched": wrong]))
        for attempt in 1...3 {
            let actions = send(w1, .result(r))
            XCTAssertEqual(sent(actions).first?.1.refusal.reason, .invalidRequest, "attempt \(attempt)")
            // The job's handler hears that it ended (and drops what it keeps for it) once, when it fails.
            let ended = actions.compactMap { if case .ended(let j) = $0 { j } else { nil } }
            XCTAssertEqual(ended.map(\.id), attempt == 3 ? [job] : [], "attempt \(attempt)")
            XCTAssertEqual(ended.first?.state, attempt == 3 ? .failed : nil)
        }
        XCTAssertEqual(core.jobs[job]?.state, .failed)
        XCTAssertTrue(core.jobs[job]?.error?.contains("failed 3 times") ?? false, core.jobs[job]?.error ?? "")
        XCTAssertTrue(core.jobs[job]?.error?.contains("missing 't', unexpected 'not-watched'") ?? false, core.jobs[job]?.error ?? "")
    }

    /// Histogram counts merge by addition: a shard counting more than 2^40 values of a tensor is
    /// refused on arrival, so no merge of stored results can overflow (and trap on every restart).
    func testAHistogramWithImpossibleCountsIsRefused() throws {
        let job = try runningJob()
        _ = hello(w1, "a")
        var h = AbsHistogram()
        h.add([1, 2, 3], isa: .scalar)
        var bytes = HistogramSet.encode(["t": h])
        // "OHS1", the count, the name "t" padded to 8 bytes, the exponent, then the zeros count.
        let zeros = 24
        withUnsafeBytes(of: (Int64(1) << 50).littleEndian) { for (i, b) in $0.enumerated() { bytes[zeros + i] = b } }
        XCTAssertEqual(try HistogramSet.decode(bytes)["t"]?.zeros, 1 << 50, "the edit did not reach the zeros count")
        var r = Octet_Wire_TaskResult()
        r.jobID = job
        r.task = 0
        r.workerID = "a"
        r.payload = Compression.pack(bytes)
        let refusal = sent(send(w1, .result(r))).first?.1.refusal
        XCTAssertEqual(refusal?.reason, .invalidRequest)
        XCTAssertTrue(refusal?.message.contains("counts more than") ?? false, refusal?.message ?? "no refusal")
        XCTAssertNotEqual(core.tasks[job]?[0].state, .done)
    }

    func testRejectionsAreCountedAndTheCoordinatorKeepsServing() throws {
        var bad: [[UInt8]] = [[], [0xFF, 0xFF, 0xFF], Array(WireProtocol.encode(.statusQuery(Octet_Wire_StatusQuery())).dropLast())]
        var wrongVersion = Octet_Wire_Envelope()
        wrongVersion.version = 99
        wrongVersion.body = .statusQuery(Octet_Wire_StatusQuery())
        bad.append(try wrongVersion.serializedBytes())
        bad.append(WireProtocol.encode(.welcome(Octet_Wire_Welcome())))  // a coordinator never accepts Welcome
        for b in bad {
            let replies = sent(handle(.message(client, b)))
            XCTAssertEqual(replies.count, 1)
            XCTAssertEqual(replies.first?.1.refusal.expectedVersion, WireProtocol.version)
        }
        // Refusals decided by the I/O (a blob not held, a chunk out of order) are counted too.
        var request = Octet_Wire_BlobRequest()
        request.hash = ContentHash.sha256(Array("never stored".utf8))
        request.length = 10
        var put = Octet_Wire_BlobPut()
        put.hash = ContentHash.sha256(Array("twenty bytes of blob".utf8))
        put.offset = 5
        put.totalSize = 20
        for body: Octet_Wire_Envelope.OneOf_Body in [.blobRequest(request), .blobPut(put)] {
            let refusal = sent(send(client, body)).first?.1.refusal
            XCTAssertNotNil(refusal, "\(body)")
        }
        XCTAssertEqual(core.rejected["notfound"], 1)
        let total = core.rejected.values.reduce(0, +)
        XCTAssertEqual(total, bad.count + 2)
        XCTAssertEqual(core.rejected["wrong_version"], 1)
        let status = sent(send(client, .statusQuery(Octet_Wire_StatusQuery())))
        XCTAssertFalse(status.first?.1.statusReport.statusJson.isEmpty ?? true)
    }

    func testSubmitRefusesMissingModelAndBadSpec() throws {
        let infer = InferenceJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .imagenet))
        var s = Octet_Wire_SubmitJob()
        s.spec = infer.spec(modelHash: String(repeating: "a", count: 64), modelName: "m").wire
        // Options the handler cannot read, a kind no handler runs, options the handler refuses.
        var unreadable = s
        unreadable.spec.options = Data("{not json".utf8)
        var unknown = s
        unknown.spec.kind = "train"
        var badBatch = infer
        badBatch.batch = 0
        for (bad, cause) in [(unreadable, "cannot be read"), (unknown, "no handler for 'train' jobs (this coordinator runs calibrate, infer)"),
                             (Octet_Wire_SubmitJob.with { $0.spec = badBatch.spec(modelHash: s.spec.modelHash, modelName: "m").wire }, "batch must be in")] {
            let r = sent(send(client, .submit(bad))).first?.1.refusal
            XCTAssertEqual(r?.reason, .invalidRequest, cause)
            XCTAssertTrue(r?.message.contains(cause) ?? false, r?.message ?? "no refusal")
        }
        let r = sent(send(client, .submit(s))).first?.1.refusal
        XCTAssertEqual(r?.reason, .notFound)
        XCTAssertTrue(r?.message.contains("was not uploaded") ?? false)
    }

    /// A worker's tensor outputs are checked before they are accepted: a shape whose product
    /// overflows, or a payload size that does not match its shape, is refused, not trapped on.
    func testTensorOutputsWithImpossibleShapesAreRefused() throws {
        let model = try core.blobs.put(Array("model".utf8))
        var options = InferenceJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .imagenet))
        options.outputs = .tensors
        guard case .accepted(let a)? = sent(send(client, submit(options, model: model))).first?.1.body else { return XCTFail("not accepted") }
        let task = TaskRecord(job: a.jobID, index: 0, kind: InferenceJobHandler.taskKind(.tensors), start: 0, end: 2)
        _ = handle(.prepared(a.jobID, .success(PreparedJob(tasks: [task]))))
        _ = hello(w1, "a")
        for (shape, rawSize) in [([2, UInt32.max, UInt32.max, UInt32.max], UInt64(8)), ([2, 3], UInt64.max), ([2, 3], UInt64(20))] {
            var t = Octet_Jobs_OutputTensor()
            t.name = "y"
            t.shape = shape
            t.elementSize = 4
            t.rawSize = rawSize
            var g = Octet_Jobs_OutputGroup()
            g.start = 0
            g.count = 2
            g.tensors = [t]
            var r = Octet_Wire_TaskResult()
            r.jobID = a.jobID
            r.workerID = "a"
            var output = Octet_Jobs_InferenceOutput()
            output.outputGroups = [g]
            r.payload = Compression.pack(try output.serializedBytes(), elementSize: 1)
            let reply = sent(send(w1, .result(r))).first?.1.refusal
            XCTAssertEqual(reply?.reason, .invalidRequest, "shape \(shape), \(rawSize) bytes")
            XCTAssertTrue(reply?.message.contains("does not hold 2 samples of float32") ?? false, reply?.message ?? "")
        }
        XCTAssertNotEqual(core.tasks[a.jobID]?[0].state, .done)
    }

    /// An inference result lists the samples it could not read beside its predictions: together
    /// they must cover the task's samples once each, in order, each unreadable one with its cause;
    /// anything else is refused and the task stays open. The right one is accepted.
    func testUnreadableSamplesMustFillExactlyTheGapsOfTheirTask() throws {
        var settings = CoordinatorSettings()
        settings.maxTaskAttempts = 10  // every refusal below requeues the task
        core = try makeCore(settings, "db3")
        let model = try core.blobs.put(Array("model".utf8))
        let options = InferenceJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .imagenet))
        guard case .accepted(let a)? = sent(send(client, submit(options, model: model))).first?.1.body else { return XCTFail("not accepted") }
        let task = TaskRecord(job: a.jobID, index: 0, kind: InferenceJobHandler.taskKind(.topk), start: 0, end: 3)
        _ = handle(.prepared(a.jobID, .success(PreparedJob(tasks: [task]))))
        _ = hello(w1, "a")
        func result(predicted: [UInt32], unreadable: [(UInt32, String)]) throws -> Octet_Wire_Envelope.OneOf_Body {
            var output = Octet_Jobs_InferenceOutput()
            output.predictions = predicted.map { i in Octet_Jobs_Prediction.with { $0.index = i; $0.classes = [7]; $0.scores = [1] } }
            output.unreadable = unreadable.map { i, why in Octet_Jobs_UnreadableSample.with { $0.index = i; $0.name = "img\(i).jpg"; $0.error = why } }
            var r = Octet_Wire_TaskResult()
            r.jobID = a.jobID
            r.workerID = "a"
            r.payload = Compression.pack(try output.serializedBytes(), elementSize: 1)
            return .result(r)
        }
        let refused: [([UInt32], [(UInt32, String)], String)] = [
            ([0, 2], [], "2 predictions and 0 unreadable samples for 3 samples"),
            ([0, 1], [(1, "corrupt")], "do not cover samples 0..<3 once each"),
            ([0, 2], [(3, "corrupt")], "do not cover samples 0..<3 once each"),
            ([2, 0], [(1, "corrupt")], "not in order"),
            ([0, 2], [(1, "")], "does not say why"),
        ]
        for (predicted, unreadable, cause) in refused {
            let reply = sent(send(w1, try result(predicted: predicted, unreadable: unreadable))).first?.1.refusal
            XCTAssertEqual(reply?.reason, .invalidRequest, cause)
            XCTAssertTrue(reply?.message.contains(cause) ?? false, "\(cause): \(reply?.message ?? "accepted")")
            XCTAssertNotEqual(core.tasks[a.jobID]?[0].state, .done, cause)
        }
        let reply = sent(send(w1, try result(predicted: [0, 2], unreadable: [(1, "cannot decode image img1.jpg")]))).first?.1.refusal
        XCTAssertNil(reply, reply?.message ?? "")
        XCTAssertEqual(core.tasks[a.jobID]?[0].state, .done)
    }

    /// Analysis and report results carry the handler's per-sample sums in `payload`: a payload that
    /// is missing, truncated, of the other kind or for other samples is refused with the cause, and
    /// the task stays open; the right one is accepted.
    func testAnalysisAndReportPayloadsAreCheckedBeforeTheyAreAccepted() throws {
        var settings = CoordinatorSettings()
        settings.maxTaskAttempts = 10  // every refusal below requeues its task
        core = try makeCore(settings, "db2")
        let job = try preparedJob { job in
            [TaskRecord(job: job, index: 0, kind: CalibrationTask.analysis.rawValue, start: 0, end: 2),
             TaskRecord(job: job, index: 1, kind: CalibrationTask.report.rawValue, start: 0, end: 1)]
        }
        _ = hello(w1, "a")
        func result(_ task: Int, _ payload: [UInt8]?) -> Octet_Wire_Envelope.OneOf_Body {
            var r = Octet_Wire_TaskResult()
            r.jobID = job
            r.task = UInt32(task)
            r.workerID = "a"
            if let payload { r.payload = Compression.pack(payload) }
            return .result(r)
        }
        let layer = WeightEffectSample.Layer(sums: [Double(1).bitPattern, Double(0.5).bitPattern], shift: [0, Double(2).bitPattern], pixels: 4)
        let effects = WeightEffectSample.encode([0, 1].map { WeightEffectSample(sample: $0, layers: ["conv": layer]) })
        let report = try ReportSampleSums.encode([ReportSampleSums(sample: 0, tensors: ["t": [1, 2]], outputs: Array(repeating: Array(repeating: 0, count: 5), count: 3))])
        let refused: [(Int, [UInt8]?, String)] = [
            (0, nil, "element size 0"),
            (0, Array(effects.dropLast(3)), "truncated"),
            (0, WeightEffectSample.encode([WeightEffectSample(sample: 0, layers: [:])]), "expected 0..<2"),
            (0, report, "not a weight-effect payload"),
            (1, effects, "not valid JSON"),
            (1, try ReportSampleSums.encode([ReportSampleSums(sample: 3, tensors: [:], outputs: [[], [], []])]), "malformed"),
        ]
        for (task, payload, cause) in refused {
            let reply = sent(send(w1, result(task, payload))).first?.1.refusal
            XCTAssertEqual(reply?.reason, .invalidRequest, "task \(task): \(cause)")
            XCTAssertTrue(reply?.message.contains(cause) ?? false, reply?.message ?? "no refusal")
            XCTAssertNotEqual(core.tasks[job]?[task].state, .done)
        }
        for (task, payload) in [(0, effects), (1, report)] {
            XCTAssertFalse(sent(send(w1, result(task, payload))).contains { $0.1.body.map(CoordinatorCore.bodyName) == "refusal" })
        }
        XCTAssertEqual(core.tasks[job]?.map(\.state), [.done, .done])
        XCTAssertEqual(core.jobs[job]?.state, .finalizing)
    }
}

extension CoordinatorCoreTests {
    /// A search result (a batch of the accuracy search's measurements) is accepted only as
    /// measurements of every set its task was given, once each, finite or none, with a finite
    /// FP32 side, in readable JSON.
    func testSearchPayloadsAreCheckedBeforeTheyAreAccepted() throws {
        var settings = CoordinatorSettings()
        settings.maxTaskAttempts = 10
        core = try makeCore(settings, "db3")
        var context = CalibrationJobContext(isa: "scalar", watched: ["t"])
        context.searchRound = [[["a"], ["b"]], [["c", "d"]]]
        let job = try preparedJob(context: context) { job in
            [TaskRecord(job: job, index: 0, kind: CalibrationTask.search.rawValue, start: 1, end: 2)]
        }
        _ = hello(w1, "a")
        func result(_ json: String) -> Octet_Wire_Envelope.OneOf_Body {
            var r = Octet_Wire_TaskResult()
            r.jobID = job
            r.workerID = "a"
            r.payload = Compression.pack(Array(json.utf8), elementSize: 1)
            return .result(r)
        }
        func body(fp32: Double = 100, _ measurements: String) -> String {
            "{\"fp32\":\(fp32.bitPattern),\"measurements\":[\(measurements)],\"metric\":\"sqnr\",\"rows\":2}"
        }
        let refused: [(String, String)] = [
            (body("{\"layers\":[\"a\"],\"value\":\(Double(99).bitPattern)}"), "which the task was not given"),
            (body("{\"layers\":[\"d\",\"c\"],\"value\":\(Double.nan.bitPattern)}"), "not a finite number"),
            (body(fp32: .infinity, "{\"layers\":[\"c\",\"d\"]}"), "FP32 side"),
            (body(""), "the task was given 1 different ones"),
            (body("{\"layers\":[\"c\",\"d\"]},{\"layers\":[\"d\",\"c\"]}"), "measurements of 2 sets"),
            ("[1, 2]", "cannot be read"),
        ]
        for (json, cause) in refused {
            let reply = sent(send(w1, result(json))).first?.1.refusal
            XCTAssertTrue(reply?.message.contains(cause) ?? false, "\(cause): \(reply?.message ?? "no refusal")")
            XCTAssertNotEqual(core.tasks[job]?[0].state, .done)
        }
        // The sets in any order of their layers; a set that cannot be built has no value.
        XCTAssertFalse(sent(send(w1, result(body("{\"layers\":[\"d\",\"c\"]}")))).contains { $0.1.body.map(CoordinatorCore.bodyName) == "refusal" })
        XCTAssertEqual(core.tasks[job]?[0].state, .done)
    }
}

/// The job store's records: written directly for speed and read back exactly; a coordinator's
/// state written by an earlier version refused with a clear error naming the job, not a decoding
/// trace or a silent skip.
final class JobStoreVersionTests: XCTestCase {
    /// Task records with any strings a worker or a handler can put in them (quotes, backslashes,
    /// control characters, non-ASCII) read back equal, and as `JSONEncoder` would have them.
    func testTaskRecordsWrittenDirectlyReadBackExactly() throws {
        var rng = TestSeed.generator()
        let alphabet: [Character] = ["a", "Z", "0", "-", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1f}", "é", "日", "🙂", " "]
        func text() -> String { String((0..<Int.random(in: 0..<12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
        for _ in 0..<2000 {
            var t = TaskRecord(job: text(), index: Int.random(in: 0..<1_000_000, using: &rng), kind: text(),
                               start: Int.random(in: -5..<1000, using: &rng), end: Int.random(in: 0..<1000, using: &rng),
                               blobs: (0..<Int.random(in: 0..<3, using: &rng)).map { _ in text() })
            t.state = [.pending, .assigned, .done].randomElement(using: &rng)!
            t.attempts = Int.random(in: 0..<9, using: &rng)
            t.worker = Bool.random(using: &rng) ? text() : nil
            let direct = try JSONDecoder().decode(TaskRecord.self, from: Data(JobStore.json(t).utf8))
            XCTAssertEqual(direct, t, JobStore.json(t))
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            XCTAssertEqual(JobStore.json(t).replacingOccurrences(of: "\\u00", with: "\\u00"), String(decoding: try e.encode(t), as: UTF8.self)
                .replacingOccurrences(of: "\\b", with: "\\u0008").replacingOccurrences(of: "\\f", with: "\\u000c"))
        }
    }

    /// Transactions of 2,000 tasks' writes (assigned, then done with a 2 KB result) one task per
    /// transaction and 16 per transaction (the driver's group commit), in memory and in a file
    /// (write-ahead log): every task reads back done with its result; the rates are printed
    /// (docs/benchmarks.md).
    func testGroupCommitStoresEveryTask() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let spec = JobSpec(kind: "infer", modelHash: String(repeating: "a", count: 64), modelName: "m", options: Data("{}".utf8))
        for (name, batch) in [("memory", 1), ("memory", 16), ("file", 1), ("file", 16)] {
            let store = try JobStore(path: name == "memory" ? ":memory:" : dir.appendingPathComponent("\(batch).sqlite").path)
            try store.save(JobRecord(id: "j", spec: spec, state: .running, created: 1))
            let n = 2000
            let t0 = DispatchTime.now().uptimeNanoseconds
            for first in stride(from: 0, to: n, by: batch) {
                var writes: [StoreWrite] = []
                for k in first..<min(n, first + batch) {
                    var t = TaskRecord(job: "j", index: k, kind: "batch", start: k * 32, end: k * 32 + 32)
                    t.state = .assigned
                    writes.append(.tasks([t]))
                    t.state = .done
                    writes.append(.complete(t, result: [UInt8](repeating: UInt8(k % 251), count: 2000)))
                }
                try store.apply(writes)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let tasks = try store.tasks(of: "j")
            XCTAssertEqual(tasks.count, n)
            XCTAssertTrue(tasks.allSatisfy { $0.state == .done })
            XCTAssertEqual(try store.storedResults(job: "j"), n)
            XCTAssertEqual(try store.result(job: "j", index: 1234), [UInt8](repeating: UInt8(1234 % 251), count: 2000))
            print(String(format: "store in %@, %2d tasks per transaction: %d tasks in %.3f s, %.0f tasks/s", name, batch, n, seconds, Double(n) / seconds))
        }
    }

    func testAStoredJobOfAnEarlierVersionIsNamedWhenItCannotBeRead() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let path = dir.appendingPathComponent("jobs.sqlite").path
        let spec = JobSpec(kind: "calibrate", modelHash: String(repeating: "a", count: 64), modelName: "m", options: Data("{}".utf8))
        try JobStore(path: path).save(JobRecord(id: "job-old", spec: spec, state: .running, created: 1))
        // The record as version 3 wrote it: the spec's kind was an enum beside JSON calibration options.
        let old = #"{"id":"job-old","spec":{"kind":"calibrate","modelHash":"\#(String(repeating: "a", count: 64))","modelName":"m","#
            + #""dataset":{"path":"/data","recipe":{}},"shardSize":32},"state":"running","created":1,"watched":[]}"#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('UPDATE job SET record = ?', (sys.argv[2],)); c.commit()",
                       path, old]
        do { try p.run() } catch { throw XCTSkip("python3 is needed to write an old record: \(error)") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("python3's sqlite3 module is needed to write an old record") }
        XCTAssertThrowsError(try JobStore(path: path).jobs()) { error in
            XCTAssertTrue("\(error)".contains("stored job job-old cannot be read") && "\(error)".contains("new --state"), "\(error)")
        }
    }
}
