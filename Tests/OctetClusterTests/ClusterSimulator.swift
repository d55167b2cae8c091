import Foundation
import Logging
import OctetCalibration
import OctetCluster
import OctetCore
import OctetZoo

/// A deterministic simulation of a calibration job on the real coordinator and worker state
/// machines (`CoordinatorCore`, `WorkerCore`), in the manner of FoundationDB's simulator: one
/// seed draws the workers' compute times, the network's delays and every fault, and the clock is
/// simulated, so a seed reproduces a run exactly. What the cores ask of the outside (a job's
/// preparation and finalization, a task's computation) is simulated too, by the simulator's own
/// job kinds (`SimulatedJobHandler`, registered with the core as Octet's are): tasks return
/// synthetic histograms of their samples, and finalization merges what the store holds, so the
/// artifact of a run is the merged histogram set, to compare with the fault-free merge.
///
/// Faults: workers killed (SIGKILL: their messages in flight are lost) and restarted with their
/// cache, the coordinator killed and restarted from its store (`resume`), messages delayed (links
/// stay in order, as TCP keeps them, except a message that overtakes the ones before it on its
/// link now and then, which TCP never does but a protocol should survive), dropped, duplicated,
/// and links cut for a while; the
/// coordinator's wall clock stepped (forward up to a minute or back up to 30 s, as an NTP step
/// does; liveness runs on the monotonic clock, which does not step); a slow disk (the core's writes
/// and reads wait their turn behind it, as the driver's I/O thread runs them, and a killed
/// coordinator loses the writes not yet done) and failing disk writes; for an inference job,
/// its client (which streams the results into an output it commits batch by batch, as
/// `CommittedOutput` does) killed and restarted from its last commit.
///
/// Invariants checked as it runs: no task's result is stored twice, no task whose result was
/// stored is ever not done again (across coordinator restarts too), no coordinator accepts more
/// results than there are tasks, the messages in flight stay bounded; and at the end:
/// the job is done and its artifact is byte-identical to the fault-free merge, or (only when a
/// disk write failed) the job failed with an error that names the store.
final class ClusterSimulator {
    struct Faults {
        var drop = 0.0, duplicate = 0.0
        /// A message that may overtake the earlier ones on its link.
        var reorder = 0.0
        var maxDelay = 0.05
        /// Per simulated second.
        var workerKill = 0.0, coordinatorKill = 0.0, linkCut = 0.0, clientKill = 0.0, clockJump = 0.0
        /// Per transaction of the job store.
        var diskFailure = 0.0
        /// The longest a disk transaction or read takes (uniform from a tenth of a millisecond).
        var maxDiskDelay = 0.005

        static let none = Faults()
        static let all = Faults(drop: 0.02, duplicate: 0.02, reorder: 0.05, maxDelay: 0.5, workerKill: 0.02, coordinatorKill: 0.01, linkCut: 0.02, clientKill: 0.02,
                                clockJump: 0.01, maxDiskDelay: 0.3)
        /// Every fault, and a disk that fails a write now and then.
        static let allWithDisk = Faults(drop: 0.02, duplicate: 0.02, reorder: 0.05, maxDelay: 0.5, workerKill: 0.02, coordinatorKill: 0.01, linkCut: 0.02,
                                        clientKill: 0.02, clockJump: 0.01, diskFailure: 0.012, maxDiskDelay: 0.3)
        /// Only the network misbehaves: nothing restarts, so a lost message must be recovered
        /// from by the protocol itself.
        static let network = Faults(drop: 0.03, duplicate: 0.03, reorder: 0.05, maxDelay: 0.5)
    }

    struct Outcome {
        var state: String
        var violations: [String]
        var artifact: [UInt8]?
        var seconds: Double
        var workerKills = 0, coordinatorKills = 0, clientKills = 0, dropped = 0, duplicated = 0, reordered = 0, clockJumps = 0, diskFailures = 0
        /// The job's error when it failed (only a failed disk write may fail it).
        var error: String?
    }

    enum Endpoint: Hashable { case coordinator, worker(Int), client }
    /// The peer that submits the job.
    static let submitter = PeerID(Array("submitter".utf8))

    /// An inference job's client: what it has committed survives its kills; its request in
    /// flight does not.
    struct SimClient {
        var output: [UInt8] = []
        var tasks = 0
        var generation = 0
        var up = true
        var downUntil = 0.0
        /// The request it waits on, and when it was sent (resent after a while: it may be lost).
        var waiting: UInt64?
        var sentAt = 0.0
        var requests: UInt64 = 0
        var batches = 0
        var peer: PeerID { PeerID(Array("client-\(generation)".utf8)) }
    }

    struct Message {
        var at: Double, seq: Int
        var from: Endpoint, to: Endpoint
        /// The incarnations of both ends when it was sent: a restart in between loses it.
        var fromGeneration: Int, toGeneration: Int
        var bytes: [UInt8]
    }

    struct SimWorker {
        var core: WorkerCore?
        var generation = 0
        var cache: BlobStore
        var downUntil = 0.0
        var linkDownUntil = 0.0
        var peer: PeerID { PeerID(Array("w\(index)-\(generation)".utf8)) }
        let index: Int
    }

    enum Pending {
        case computed(worker: Int, generation: Int, Result<Octet_Wire_TaskResult, TaskError>)
        case background(generation: Int, CoordinatorEvent)
        /// The client has written its batch and asks for the next.
        case clientReady(generation: Int)
        /// The coordinator's disk finished its current transaction or read.
        case disk(generation: Int)
        /// A worker's disk wrote a fetched chunk (`.chunkStored`).
        case workerIO(worker: Int, generation: Int, WorkerEvent)
    }

    let samples: Int, shardSize: Int, watched: [String]
    let kind: SimulatedJobHandler.Kind
    let faults: Faults
    let bug: SimulatedBug?
    var rng: SeededRandom
    var now = 0.0
    let directory: URL
    let store: JobStore
    let blobs: BlobStore
    let io: CoordinatorIO
    var coordinator: CoordinatorCore?
    /// The coordinator's I/O actions and the actions behind them, in order (`Coordinator`'s I/O
    /// thread), and whether the disk is at work on the first.
    var diskQueue: [CoordinatorAction] = []
    var diskBusy = false
    /// Per task, how many times its result was stored (durably: a write done before any kill).
    var storedCompletes: [Int: Int] = [:]
    var coordinatorGeneration = 0
    var coordinatorDownUntil = 0.0
    /// The coordinator's wall clock's step from the simulated time.
    var coordinatorClockOffset = 0.0
    var workers: [SimWorker] = []
    var client = SimClient()
    /// Inference: tasks run ahead of the client's commit (`CoordinatorSettings.outputWindow`).
    let outputWindow: Int
    /// How long a task computes: `taskSeconds.lowerBound` plus a uniform share of the range.
    var taskSeconds: ClosedRange<Double> = 0.5...2.5
    /// The client's reading: tasks per question, and its pause after writing a batch (a slow disk).
    var clientBatch = 8, clientDelay = 0.0
    /// Called each time the client has written another tenth of the tasks, with the count.
    var onClientProgress: ((Int) -> Void)?
    /// The most results the coordinator held for the job at a check.
    var maxStoredResults = 0
    var network: [Message] = []
    var lastOnLink: [String: Double] = [:]
    var pending: [(at: Double, seq: Int, what: Pending)] = []
    var seq = 0
    var jobID = ""
    var lastDone = 0
    var violations: [String] = []
    var outcome: Outcome
    let logger = Logger(label: "octet.simulation", factory: { _ in SwiftLogNoOpLogHandler() })
    /// The simulated job kind, run by the real core through the handler seam.
    let handler: SimulatedJobHandler

    /// Wall time spent inside the coordinator core's `handle`, and the calls; and in its I/O
    /// (`CoordinatorIO`: the store's transactions and reads, on the driver's I/O thread).
    var coordinatorSeconds = 0.0, resultSeconds = 0.0, ioSeconds = 0.0
    /// Of `ioSeconds`, the reads and blob actions (replies built from the stores).
    var replySeconds = 0.0
    /// The store's transactions and the writes they held.
    var transactions = 0, writes = 0
    var coordinatorCalls = 0

    init(seed: UInt64, workers count: Int, samples: Int, shardSize: Int, faults: Faults, directory: URL, bug: SimulatedBug? = nil,
         kind: SimulatedJobHandler.Kind = .calibrate, outputWindow: Int = CoordinatorSettings().outputWindow) throws {
        self.kind = kind
        self.outputWindow = outputWindow
        rng = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        self.samples = samples
        self.shardSize = shardSize
        self.faults = faults
        self.bug = bug
        self.directory = directory
        watched = ["conv1", "relu1", "logits"]
        store = try JobStore(path: ":memory:")
        blobs = try BlobStore(directory: directory.appendingPathComponent("coordinator").path)
        io = CoordinatorIO(store: store, blobs: blobs, maxBlobBytes: CoordinatorSettings().maxBlobBytes)
        handler = SimulatedJobHandler(kind: kind, store: store, blobs: blobs)
        outcome = Outcome(state: "", violations: [], artifact: nil, seconds: 0)
        for i in 0..<count {
            workers.append(SimWorker(core: nil, cache: try BlobStore(directory: directory.appendingPathComponent("worker\(i)").path), index: i))
        }
    }

    // MARK: Randomness

    func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
    func chance(_ p: Double) -> Bool { p > 0 && uniform() < p }

    // MARK: The synthetic workload

    /// The histograms of samples `range`: for each watched tensor, values that depend only on
    /// the sample and the tensor (what a real shard's FP32 pass is).
    static func histograms(_ range: Range<Int>, watched: [String]) -> [String: AbsHistogram] {
        var out: [String: AbsHistogram] = [:]
        for (t, name) in watched.enumerated() {
            var h = AbsHistogram()
            for i in range {
                h.add((0..<16).map { k in Float((i * 31 + k * 7 + t * 13) % 97 - 40) * 0.037 * Float(t + 1) }, isa: .scalar)
            }
            out[name] = h
        }
        return out
    }

    /// Sample i's prediction line: a class and score that depend only on i (an inference task).
    static func prediction(_ i: Int) -> String {
        "\(i) \(i * 7 % 1000) \(Float(i % 101) / 100)\n"
    }

    /// What an inference job writes: one line per sample, in sample order.
    static func predictionLines(_ range: Range<Int>) -> [UInt8] {
        Array(range.map(Self.prediction).joined().utf8)
    }

    /// The artifact a fault-free run produces: every sample's histograms merged, or every
    /// sample's prediction once, in order.
    var expectedArtifact: [UInt8] {
        kind == .calibrate ? HistogramSet.encode(Self.histograms(0..<samples, watched: watched)) : Self.predictionLines(0..<samples)
    }

    // MARK: Running

    func run(until limit: Double = 3600) throws -> Outcome {
        try startCoordinator()
        for i in workers.indices { startWorker(i) }
        // The client uploads the model and submits (a client retries until accepted; here the
        // submit goes straight to the first core, which is not what the faults are about).
        let model = try blobs.put(Array("a model of \(samples) samples".utf8))
        let options = SimulatedJobHandler.Options(samples: samples, shardSize: shardSize, watched: watched)
        var submit = Octet_Wire_SubmitJob()
        submit.spec = JobSpec(kind: kind.rawValue, modelHash: model, modelName: "m", options: try JSONEncoder().encode(options)).wire
        guard coordinator != nil else { throw JobFailure("no coordinator") }
        // Accepted once the job is stored: the reply waits for the disk, which is not yet failing.
        perform(handle(.message(Self.submitter, WireProtocol.encode(.submit(submit)))))
        while !diskQueue.isEmpty { diskStep(failing: false) }
        guard !jobID.isEmpty else { throw JobFailure("the submit was not accepted") }

        var nextTick = 0.0
        while now < limit {
            if let job = coordinator?.jobs[jobID], job.state == .failed
                || (job.state == .done && (kind == .calibrate || client.tasks == coordinator?.tasks[jobID]?.count)) { break }
            // The next thing to happen: a tick, a message, a computation or background work.
            let nextMessage = network.min { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let nextPending = pending.min { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let t = min(nextTick, nextMessage?.at ?? .infinity, nextPending?.at ?? .infinity)
            injectFaults(over: max(t - now, 0))
            now = max(now, t)
            if let m = nextMessage, m.at == t {
                network.removeAll { $0.seq == m.seq }
                deliver(m)
            } else if let p = nextPending, p.at == t {
                pending.removeAll { $0.seq == p.seq }
                complete(p.what)
            } else {
                nextTick = now + 0.25
                tick()
            }
            check()
            if network.count > 10_000 { violations.append("unbounded: \(network.count) messages in flight") }
            if !violations.isEmpty { break }
        }
        if coordinator == nil { try startCoordinator() }  // the store says how it ended
        checkDoneTasks()
        let state = coordinator?.jobs[jobID]?.state.rawValue ?? "missing"
        outcome.state = state
        outcome.seconds = now
        if state == "done", kind == .infer {
            outcome.artifact = client.output
            if client.output != expectedArtifact { violations.append("the client's output differs from the fault-free run's (\(client.tasks) tasks written)") }
        } else if state == "done" {
            if let hash = coordinator?.jobs[jobID]?.artifacts.first?.hash, let bytes = try? blobs.read(hash) {
                outcome.artifact = bytes
                if bytes != expectedArtifact { violations.append("the artifact differs from the fault-free run's") }
            } else {
                violations.append("the job is done without its artifact")
            }
        } else if state == "failed", outcome.diskFailures > 0, let error = coordinator?.jobs[jobID]?.error, error.contains("cannot store") {
            outcome.error = error  // a failed write fails the job with its cause
        } else if violations.isEmpty {
            violations.append("the job did not finish by \(Int(limit)) s: \(state) (\(coordinator?.jobs[jobID]?.error ?? ""))")
        }
        outcome.violations = violations
        return outcome
    }

    /// `coordinator.handle(event)` (none when it is down), timed; the time of task results (their
    /// acceptance and the dispatch that follows) is also kept apart from heartbeats, ticks and the rest.
    func handle(_ event: CoordinatorEvent) -> [CoordinatorAction] {
        guard coordinator != nil else { return [] }
        var isResult = false
        if case .message(_, let bytes) = event, case .result? = try? WireProtocol.decode(bytes, maxBytes: Int.max).body { isResult = true }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let actions = coordinator!.handle(event)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        coordinatorSeconds += seconds
        if isResult { resultSeconds += seconds }
        coordinatorCalls += 1
        return actions
    }

    func startCoordinator() throws {
        var settings = CoordinatorSettings()
        settings.heartbeatInterval = 1
        settings.heartbeatTimeout = 5
        settings.taskTimeout = 20
        settings.maxTaskAttempts = 1000
        settings.simulatedBug = bug
        settings.outputWindow = outputWindow
        coordinatorGeneration += 1
        var jobs = 0
        coordinator = CoordinatorCore(settings: settings, blobs: blobs, handlers: JobHandlers([handler]), logger: logger,
                                      now: { [unowned self] in now + coordinatorClockOffset }, uptime: { [unowned self] in now },
                                      makeJobID: { jobs += 1; return "job-\(jobs)" })
        diskQueue = []
        diskBusy = false
        perform(coordinator!.resume(try store.load()))
        checkDoneTasks()
        lastDone = coordinator?.tasksDone(jobID) ?? 0
    }

    func startWorker(_ i: Int) {
        workers[i].generation += 1
        var hello = Octet_Wire_Hello()
        hello.workerID = "worker-\(i)"
        hello.isa = "scalar"
        hello.isas = ["scalar"]
        hello.credit = UInt32(1 + i % 2)  // odd workers hold two tasks at once
        workers[i].core = WorkerCore(hello: hello, cache: workers[i].cache, logger: logger, now: { [unowned self] in now })
    }

    func tick() {
        perform(handle(.tick))
        if kind == .infer { clientStep() }
        for i in workers.indices { perform(handle(.tick, worker: i), worker: i) }
    }

    /// Carries out the coordinator's actions in order, as its driver does: I/O, and everything
    /// behind I/O not yet done, waits its turn on the disk; the rest at once.
    func perform(_ actions: [CoordinatorAction]) {
        for a in actions {
            if !diskQueue.isEmpty || a.isIO {
                diskQueue.append(a)
                if !diskBusy { startDisk() }
            } else {
                carry(a)
            }
        }
    }

    func startDisk() {
        diskBusy = true
        schedule(after: 0.0001 + (faults.maxDiskDelay - 0.0001) * uniform(), .disk(generation: coordinatorGeneration))
    }

    /// The disk's turn: the writes at the front in one transaction (which may fail), then what
    /// waited behind them up to the next write (reads answered, actions carried out).
    func diskStep(failing: Bool = true) {
        var first = true
        while let a = diskQueue.first {
            if case .persist = a {
                guard first else { break }
                var writes: [StoreWrite] = []
                while case .persist(let w)? = diskQueue.first {
                    writes += w
                    diskQueue.removeFirst()
                }
                first = false
                if failing, chance(faults.diskFailure) {
                    outcome.diskFailures += 1
                    perform(handle(.persistFailed(writes, "\(SimulatedDiskError())")))
                    continue
                }
                let t0 = DispatchTime.now().uptimeNanoseconds
                let error = io.write(writes)
                ioSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                transactions += 1
                self.writes += writes.count
                if let error {
                    violations.append("the store refused a write: \(error)")
                    continue
                }
                for case .complete(let t, _) in writes where t.job == jobID {
                    storedCompletes[t.index, default: 0] += 1
                    if storedCompletes[t.index]! > 1 { violations.append("task \(t.index)'s result was stored \(storedCompletes[t.index]!) times (at \(now) s)") }
                }
                continue
            }
            diskQueue.removeFirst()
            let t0 = DispatchTime.now().uptimeNanoseconds
            if let answer = io.reply(a) {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                ioSeconds += seconds
                replySeconds += seconds
                switch answer {
                case .send(let peer, let bytes): carry(.send(peer, bytes))
                case .refuse(let peer, let rid, let error): perform(handle(.refused(peer, requestID: rid, error)))
                }
            } else {
                carry(a)
            }
        }
        if diskQueue.isEmpty { diskBusy = false } else { startDisk() }
    }

    /// Carries out one action that is not I/O (or is a reply the disk read).
    func carry(_ a: CoordinatorAction) {
        switch a {
        case .send(let peer, let bytes):
            if peer == Self.submitter, case .accepted(let a)? = try? WireProtocol.decode(bytes).body { jobID = a.jobID }
            if peer == client.peer, client.up { return send(from: .coordinator, to: .client, bytes) }
            guard let i = workers.firstIndex(where: { $0.peer == peer }) else { return }  // a peer gone
            send(from: .coordinator, to: .worker(i), bytes)
        case .prepare(let job):
            schedule(after: 0.1 + uniform(), .background(generation: coordinatorGeneration, .prepared(job.id, handler.prepare(job))))
        case .finalize(let job, let list):
            schedule(after: 0.1 + uniform(), .background(generation: coordinatorGeneration, .finalized(job.id, handler.finalize(job, list))))
        case .ended(let job):
            handler.ended(job)
        case .persist, .serveResults, .serveBlob, .storeBlob:
            violations.append("I/O carried out off the disk's queue")
        }
    }

    /// Worker i's `handle(event)`, in place (none when it is down).
    func handle(_ event: WorkerEvent, worker i: Int) -> [WorkerAction] {
        guard workers[i].core != nil else { return [] }
        return workers[i].core!.handle(event)
    }

    /// Carries out a worker's actions.
    func perform(_ actions: [WorkerAction], worker i: Int) {
        for a in actions {
            switch a {
            case .storeChunk(let put):
                // The worker's disk: written now, acknowledged a moment later.
                let result: Result<Octet_Wire_BlobAck, WireError>
                do throws(WireError) { result = .success(try workers[i].cache.receive(put, maxSize: workers[i].core?.maxBlobBytes ?? 0)) } catch { result = .failure(error) }
                schedule(after: 0.0001 + 0.002 * uniform(),
                         .workerIO(worker: i, generation: workers[i].generation, .chunkStored(hash: put.hash, offset: put.offset, result)))
            case .send(let bytes): send(from: .worker(i), to: .coordinator, bytes)
            case .compute(let assignment):
                var r = Octet_Wire_TaskResult()
                r.jobID = assignment.jobID
                r.task = assignment.task
                r.attempt = assignment.attempt
                r.workerID = "worker-\(i)"
                let range = Int(assignment.start)..<Int(assignment.end)
                if kind == .infer {
                    r.payload = Compression.pack(Self.predictionLines(range), elementSize: 1)
                } else {
                    let watched = (try? JSONDecoder().decode([String].self, from: assignment.context)) ?? []
                    r.payload = Compression.pack(HistogramSet.encode(Self.histograms(range, watched: watched)))
                }
                r.images = UInt32(range.count)
                r.seconds = taskSeconds.lowerBound + (taskSeconds.upperBound - taskSeconds.lowerBound) * uniform()
                schedule(after: r.seconds, .computed(worker: i, generation: workers[i].generation, .success(r)))
            case .prepare:
                break  // preparing only saves time; the simulated computation takes what it takes
            case .exit, .fail:
                workers[i].core = nil
            }
        }
    }

    func schedule(after delay: Double, _ what: Pending) {
        seq += 1
        pending.append((now + delay, seq, what))
    }

    func generation(_ e: Endpoint) -> Int {
        switch e {
        case .coordinator: coordinatorGeneration
        case .worker(let i): workers[i].generation
        case .client: client.generation
        }
    }

    func send(from: Endpoint, to: Endpoint, _ bytes: [UInt8]) {
        if chance(faults.drop) { outcome.dropped += 1; return }
        let copies = chance(faults.duplicate) ? 2 : 1
        if copies == 2 { outcome.duplicated += 1 }
        for _ in 0..<copies {
            // In order on each link, as TCP delivers, unless this one overtakes.
            let link = "\(from)->\(to)"
            let drawn = now + faults.maxDelay * uniform() + 0.001
            let at: Double
            if chance(faults.reorder), drawn < lastOnLink[link] ?? 0 {
                outcome.reordered += 1
                at = drawn
            } else {
                at = max(drawn, (lastOnLink[link] ?? 0) + 1e-6)
                lastOnLink[link] = at
            }
            seq += 1
            network.append(Message(at: at, seq: seq, from: from, to: to, fromGeneration: generation(from), toGeneration: generation(to), bytes: bytes))
        }
    }

    func linkDown(_ m: Message) -> Bool {
        for e in [m.from, m.to] { if case .worker(let i) = e, workers[i].linkDownUntil > now { return true } }
        return false
    }

    func deliver(_ m: Message) {
        // A restart of either end since it was sent loses it (the connection is gone), as does a cut link.
        guard m.fromGeneration == generation(m.from), m.toGeneration == generation(m.to), !linkDown(m) else { return }
        switch m.to {
        case .coordinator:
            switch m.from {
            case .worker(let i): perform(handle(.message(workers[i].peer, m.bytes)))
            case .client: perform(handle(.message(client.peer, m.bytes)))
            case .coordinator: return
            }
        case .client:
            clientReceive(m.bytes)
        case .worker(let i):
            perform(handle(.message(m.bytes), worker: i), worker: i)
        }
    }

    func complete(_ p: Pending) {
        switch p {
        case .computed(let i, let generation, let result):
            guard workers[i].generation == generation else { return }
            perform(handle(.computed(result), worker: i), worker: i)
        case .workerIO(let i, let generation, let event):
            guard workers[i].generation == generation else { return }
            perform(handle(event, worker: i), worker: i)
        case .background(let generation, let event):
            guard generation == coordinatorGeneration else { return }
            perform(handle(event))
        case .clientReady(let generation):
            if generation == client.generation { clientStep() }
        case .disk(let generation):
            if generation == coordinatorGeneration { diskStep() }
        }
    }

    func injectFaults(over seconds: Double) {
        guard seconds > 0 else { return }
        for i in workers.indices {
            if workers[i].core == nil, workers[i].downUntil <= now {
                startWorker(i)
            } else if workers[i].core != nil, chance(faults.workerKill * seconds) {
                outcome.workerKills += 1
                workers[i].core = nil
                workers[i].generation += 1  // its connection and computation die with it
                workers[i].downUntil = now + 10 * uniform()
            }
            if chance(faults.linkCut * seconds) { workers[i].linkDownUntil = now + 8 * uniform() }
        }
        if kind == .infer {
            if !client.up, client.downUntil <= now {
                client.up = true
                client.waiting = nil
            } else if client.up, chance(faults.clientKill * seconds) {
                outcome.clientKills += 1
                client.up = false
                client.generation += 1  // its connection and the request in flight die with it
                client.downUntil = now + 5 * uniform()
            }
        }
        if chance(faults.clockJump * seconds) {
            outcome.clockJumps += 1
            coordinatorClockOffset += uniform() * 90 - 30
        }
        if coordinator == nil, coordinatorDownUntil <= now {
            try? startCoordinator()
        } else if coordinator != nil, chance(faults.coordinatorKill * seconds) {
            outcome.coordinatorKills += 1
            checkDoneTasks()
            coordinator = nil
            coordinatorGeneration += 1  // every connection, background step and write not yet done dies with it
            coordinatorDownUntil = now + 5 * uniform()
        }
    }

    /// The invariants that must hold after every step: the tasks done never decrease, and one
    /// coordinator never accepts more results than there are tasks. Cheap (counts); `checkDoneTasks`
    /// compares task by task, after every coordinator restart and at the end, and the disk counts
    /// every result it stores.
    func check() {
        guard let core = coordinator, let count = core.tasks[jobID]?.count else { return }
        let done = core.tasksDone(jobID)
        if done < lastDone { violations.append("tasks done fell from \(lastDone) to \(done) (at \(now) s)") }
        lastDone = done
        if core.acceptedResults > count { violations.append("\(core.acceptedResults) results accepted for \(count) tasks (at \(now) s)") }
    }

    // MARK: The inference client

    /// Asks for the next results (from what it has committed), unless it waits on an answer;
    /// a question unanswered for 2 s is asked again (it or its answer may be lost).
    func clientStep() {
        guard client.up, coordinator?.jobs[jobID]?.state.isFinished != true || client.tasks < (coordinator?.tasks[jobID]?.count ?? 0) else { return }
        if client.waiting != nil, now - client.sentAt < 2 { return }
        var q = Octet_Wire_ResultsQuery()
        q.jobID = jobID
        q.fromTask = UInt32(client.tasks)
        q.maxTasks = UInt32(clientBatch)
        client.requests += 1
        client.waiting = client.requests
        client.sentAt = now
        send(from: .client, to: .coordinator, WireProtocol.encode(.resultsQuery(q), requestID: client.requests))
    }

    /// Commits a batch that continues its output (appends its lines and the task count at once,
    /// as `CommittedOutput.commit` makes durable), then asks again.
    func clientReceive(_ bytes: [UInt8]) {
        guard client.up, let e = try? WireProtocol.decode(bytes, maxBytes: Int.max), e.requestID == client.waiting else { return }
        client.waiting = nil
        guard case .resultsBatch(let b) = e.body else { return }  // a refusal (e.g. the job is unknown to a coordinator not yet resumed): ask again later
        guard Int(b.firstTask) == client.tasks else {
            violations.append("results from task \(b.firstTask) answer a question from \(client.tasks)")
            return
        }
        for r in b.results { client.output += (try? Compression.unpack(r.payload)) ?? [] }
        let total = coordinator?.tasks[jobID]?.count ?? 0, before = client.tasks
        client.tasks += b.results.count
        if total >= 10, let report = onClientProgress, client.tasks * 10 / total > before * 10 / total { report(client.tasks) }
        // What the coordinator stores for the job never exceeds the window (the tasks below the
        // commit are dropped, none beyond the window run). Counted every 64th batch (a scan of
        // the job's rows) and on the last.
        client.batches += 1
        if client.batches % 64 == 0 || client.tasks == total, let stored = try? store.storedResults(job: jobID) {
            maxStoredResults = max(maxStoredResults, stored)
            guard stored > outputWindow else { return clientAskAgain(b) }
            violations.append("\(stored) results stored with an output window of \(outputWindow) (at \(now) s)")
        }
        clientAskAgain(b)
    }

    /// After a batch with results, the next question (after `clientDelay`).
    func clientAskAgain(_ b: Octet_Wire_ResultsBatch) {
        if !b.results.isEmpty {
            if clientDelay > 0 { schedule(after: clientDelay, .clientReady(generation: client.generation)) } else { clientStep() }
        }
    }

    /// No task whose result was stored is not done any more.
    func checkDoneTasks() {
        guard let core = coordinator, let list = core.tasks[jobID] else { return }
        let done = Set(list.filter { $0.state == .done }.map(\.index))
        for lost in Set(storedCompletes.keys).subtracting(done).sorted() {
            violations.append("task \(lost)'s result was stored and the task is not done any more (at \(now) s)")
        }
    }
}

/// The simulator's job kinds, registered with the real coordinator core through the same seam
/// as Octet's calibration and inference (and nothing else in the cluster knows them): tasks of
/// `shardSize` samples; a calibration's results are synthetic histograms of the watched tensors
/// (checked on arrival), merged into the job's artifact; an inference's are prediction lines a
/// client streams.
final class SimulatedJobHandler: JobHandler, @unchecked Sendable {
    enum Kind: String { case calibrate = "sim-calibrate", infer = "sim-infer" }
    struct Options: Codable { var samples: Int, shardSize: Int, watched: [String] }

    let simulated: Kind
    let store: JobStore
    let blobs: BlobStore
    var kind: String { simulated.rawValue }
    var streamsResults: Bool { simulated == .infer }

    init(kind: Kind, store: JobStore, blobs: BlobStore) {
        self.simulated = kind
        self.store = store
        self.blobs = blobs
    }

    func options(_ spec: JobSpec) throws -> Options { try JSONDecoder().decode(Options.self, from: spec.options) }

    func problem(_ spec: JobSpec) -> String? {
        (try? options(spec)) == nil ? "unreadable options" : nil
    }

    func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure> {
        Result { () throws -> PreparedJob in
            let o = try options(job.spec)
            let tasks = stride(from: 0, to: o.samples, by: o.shardSize).enumerated().map { n, start in
                TaskRecord(job: job.id, index: n, kind: simulated == .calibrate ? "shard" : "batch", start: start, end: min(start + o.shardSize, o.samples))
            }
            return PreparedJob(tasks: tasks, context: try JSONEncoder().encode(o.watched), requirement: "scalar")
        }.mapError { JobFailure("preparing: \($0)") }
    }

    func check(_ r: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String? {
        do {
            let bytes = try Compression.unpack(r.payload)
            if simulated == .infer {
                return bytes.filter { $0 == UInt8(ascii: "\n") }.count == task.count ? nil : "not one line per sample"
            }
            let watched = try JSONDecoder().decode([String].self, from: job.context)
            return Set(try HistogramSet.decode(bytes).keys) == Set(watched) ? nil : "histograms of other tensors"
        } catch {
            return "\(error)"
        }
    }

    func ended(_ job: JobRecord) {}

    /// Finalization reads the store, as Octet's handlers do.
    func finalize(_ job: JobRecord, _ tasks: [TaskRecord]) -> Result<FinalizedJob, JobFailure> {
        // The client writes the predictions; finalization only summarizes.
        guard simulated == .calibrate else { return .success(FinalizedJob(artifacts: [], summary: "{}")) }
        return Result { () throws -> FinalizedJob in
            var merged: [String: AbsHistogram] = [:]
            for r in try store.results(of: tasks) {
                for (name, h) in try HistogramSet.decode(try Compression.unpack(r.payload)) { merged[name, default: AbsHistogram()].merge(h) }
            }
            let bytes = HistogramSet.encode(merged)
            let hash = try blobs.put(bytes)
            return FinalizedJob(artifacts: [JobRecord.Artifact(name: "histograms", hash: hash, size: UInt64(bytes.count))], summary: nil)
        }.mapError { JobFailure("finalizing: \($0)") }
    }
}

/// A write the simulated disk refused.
struct SimulatedDiskError: Error, CustomStringConvertible {
    var description: String { "simulated disk failure" }
}
