import Dispatch
import Foundation
import Logging

/// Runs a `CoordinatorCore` over a transport. The message loop (`run`, one thread) receives
/// messages, feeds them to the core and sends what it returns; it never touches the disk. Writes
/// and stored reads go to an I/O thread in order (`CoordinatorIO`; the writes queued meanwhile go
/// in one transaction), and every action after one waits for it: the I/O thread hands them back to
/// the loop in order, with a failed write as `CoordinatorEvent.persistFailed`. Preparation and
/// finalization (by the job's handler) run on a background queue and come back as events.
/// `/status` readers get a snapshot refreshed on every tick, never the live state.
public final class Coordinator: @unchecked Sendable {
    /// The state machine: mutated on the loop thread only (under `coreLock`; `inspect` reads it).
    private var core: CoordinatorCore
    private let coreLock = NSLock()
    public let handlers: JobHandlers
    let transport: ServerTransport
    let io: CoordinatorIO
    let logger: Logger
    private let work = DispatchQueue(label: "octet.coordinator.jobs")
    private let lock = NSLock()
    private var inbox: [Posted] = []
    private var snapshot = "{}"
    private var stopping = false
    private var lastTick = 0.0
    private var lastStep = Date().timeIntervalSince1970
    /// I/O actions and the actions behind them, not yet handed back to the loop (loop thread only).
    private var outstanding = 0
    /// The I/O thread's queue.
    private let ioCondition = NSCondition()
    private var ioQueue: [CoordinatorAction] = []
    private var ioStopping = false
    /// Whether the I/O thread runs (started by `run`, or by the first I/O of a caller of `step`).
    private var ioStarted = false

    /// What other threads hand the loop.
    enum Posted {
        /// A background step's result.
        case event(CoordinatorEvent)
        /// `count` queued actions are through the I/O thread: feed `event` (a failed write), then
        /// carry out `action` (a reply it read, or an action that waited behind the I/O).
        case ioDone(count: Int, event: CoordinatorEvent?, action: CoordinatorAction?)
    }

    public init(core: CoordinatorCore, store: JobStore, transport: ServerTransport, logger: Logger = Logger(label: "octet.coordinator")) {
        self.core = core
        self.handlers = core.handlers
        self.transport = transport
        self.io = CoordinatorIO(store: store, blobs: core.blobs, maxBlobBytes: core.settings.maxBlobBytes)
        self.logger = logger
    }

    /// Reads the core's state under its lock (tests and tools: the loop mutates it).
    public func inspect<T>(_ body: (CoordinatorCore) throws -> T) rethrows -> T {
        coreLock.lock(); defer { coreLock.unlock() }
        return try body(core)
    }

    /// The latest status document (JSON), safe from any thread.
    public var statusJSON: String { lock.lock(); defer { lock.unlock() }; return snapshot }

    /// Whether the message loop turned within the last `seconds` (a liveness probe's question).
    public func isResponsive(within seconds: Double = 5) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return Date().timeIntervalSince1970 - lastStep < seconds
    }

    /// Asks `run` to return (from any thread, e.g. a signal handler's queue).
    public func stop() { lock.lock(); stopping = true; lock.unlock() }

    var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    /// Reloads stored jobs, then serves until `stop()`; the writes queued by then are done
    /// before it returns.
    public func run() throws {
        let stored = try io.store.load()
        startIO()
        perform(handle { $0.resume(stored) })
        while !isStopping { step(timeoutMs: 20) }
        // The writes queued by then are done (no new message is taken).
        while outstanding > 0 {
            takePosted()
            if outstanding > 0 { Thread.sleep(forTimeInterval: 0.001) }
        }
        stopIO()
    }

    /// `body` on the core, under its lock.
    private func handle(_ body: (inout CoordinatorCore) -> [CoordinatorAction]) -> [CoordinatorAction] {
        coreLock.lock(); defer { coreLock.unlock() }
        return body(&core)
    }

    /// One turn of the loop: what other threads handed back, up to 1000 messages, liveness.
    public func step(timeoutMs: Int) {
        takePosted()
        // While I/O is out, wait briefly: what it hands back is released on the next turn.
        var wait = outstanding > 0 ? min(timeoutMs, 1) : timeoutMs
        for n in 0..<1000 {
            // Under a stream of messages, what the I/O handed back goes out every 64 of them.
            if n % 64 == 63 { takePosted() }
            let incoming: (peer: PeerID, bytes: [UInt8])?
            do { incoming = try transport.receive(timeoutMs: wait) } catch {
                logger.error("receive failed", metadata: ["error": "\(error)"])
                break
            }
            guard let (peer, bytes) = incoming else { break }
            perform(handle { $0.handle(.message(peer, bytes)) })
            wait = 0
        }
        let t = Date().timeIntervalSince1970
        if t - lastTick >= 0.2 {
            lastTick = t
            perform(handle { $0.handle(.tick) })
            let s = inspect { $0.status().json() }
            lock.lock(); snapshot = s; lock.unlock()
        }
    }

    /// What other threads handed back, in order: background results fed to the core, I/O done
    /// (a failed write fed back, a reply sent, an action that waited carried out).
    func takePosted() {
        lock.lock()
        let posted = inbox
        inbox.removeAll()
        lastStep = Date().timeIntervalSince1970
        lock.unlock()
        for p in posted {
            switch p {
            case .event(let e): perform(handle { $0.handle(e) })
            case .ioDone(let count, let event, let action):
                outstanding -= count
                if let event { perform(handle { $0.handle(event) }) }
                if let action { execute(action) }
            }
        }
    }

    /// Carries out the core's actions in order: I/O, and anything behind I/O not yet through,
    /// goes to the I/O thread; the rest at once.
    func perform(_ actions: [CoordinatorAction]) {
        for a in actions {
            if outstanding > 0 || a.isIO {
                if !ioStarted { startIO() }
                outstanding += 1
                ioCondition.lock()
                ioQueue.append(a)
                ioCondition.signal()
                ioCondition.unlock()
            } else {
                execute(a)
            }
        }
    }

    /// A non-I/O action (or a reply read on the I/O thread), on the loop thread.
    func execute(_ a: CoordinatorAction) {
        switch a {
        case .send(let peer, let bytes):
            do { try transport.send(bytes, to: peer) } catch {
                logger.warning("send failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        case .prepare(let job):
            let handler = handlers[job.spec.kind]
            work.async { [self] in post(.prepared(job.id, handler?.prepare(job) ?? .failure(Self.noHandler(job)))) }
        case .finalize(let job, let tasks):
            let handler = handlers[job.spec.kind]
            work.async { [self] in post(.finalized(job.id, handler?.finalize(job, tasks) ?? .failure(Self.noHandler(job)))) }
        case .ended(let job):
            let handler = handlers[job.spec.kind]
            work.async { handler?.ended(job) }
        case .persist, .serveResults, .serveBlob, .storeBlob:
            assertionFailure("I/O runs on the I/O thread")
        }
    }

    // MARK: The I/O thread

    func startIO() {
        guard !ioStarted else { return }
        ioStarted = true
        let thread = Thread { [self] in ioLoop() }
        thread.name = "octet.coordinator.io"
        thread.start()
    }

    func stopIO() {
        ioCondition.lock()
        ioStopping = true
        ioCondition.signal()
        ioCondition.unlock()
    }

    /// Takes everything queued, writes consecutive persists in one transaction, reads what is to
    /// be read, and hands each back to the loop in order.
    func ioLoop() {
        while true {
            ioCondition.lock()
            while ioQueue.isEmpty && !ioStopping { ioCondition.wait() }
            if ioQueue.isEmpty {
                ioCondition.unlock()
                return
            }
            let batch = ioQueue
            ioQueue.removeAll()
            ioCondition.unlock()
            var results: [Posted] = []
            var i = 0
            while i < batch.count {
                var writes: [StoreWrite] = []
                var n = 0
                while i + n < batch.count, case .persist(let w) = batch[i + n] {
                    writes += w
                    n += 1
                }
                if n > 0 {
                    let error = io.write(writes)
                    results.append(.ioDone(count: n, event: error.map { .persistFailed(writes, $0) }, action: nil))
                    i += n
                    continue
                }
                let a = batch[i]
                switch io.reply(a) {
                case .send(let peer, let bytes)?: results.append(.ioDone(count: 1, event: nil, action: .send(peer, bytes)))
                case .refuse(let peer, let rid, let error)?: results.append(.ioDone(count: 1, event: .refused(peer, requestID: rid, error), action: nil))
                case nil: results.append(.ioDone(count: 1, event: nil, action: a))
                }
                i += 1
            }
            lock.lock(); inbox += results; lock.unlock()
        }
    }

    /// A stored job of a kind this coordinator's build does not run (it was submitted to another).
    static func noHandler(_ job: JobRecord) -> JobFailure {
        JobFailure("this coordinator runs no '\(job.spec.kind)' jobs")
    }

    func post(_ event: CoordinatorEvent) {
        lock.lock(); inbox.append(.event(event)); lock.unlock()
    }
}
