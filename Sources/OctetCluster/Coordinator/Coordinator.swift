import Dispatch
import Foundation
import Logging

/// Runs a `CoordinatorCore` over a transport: one thread receives messages and carries out the
/// core's actions; preparation and finalization (by the job's handler) run on a background
/// queue and come back as events. `/status` readers get a snapshot refreshed on every tick, never the live state.
public final class Coordinator: @unchecked Sendable {
    public let core: CoordinatorCore
    let transport: ServerTransport
    let logger: Logger
    private let work = DispatchQueue(label: "octet.coordinator.jobs")
    private let lock = NSLock()
    private var inbox: [CoordinatorEvent] = []
    private var snapshot = "{}"
    private var stopping = false
    private var lastTick = 0.0
    private var lastStep = Date().timeIntervalSince1970

    public init(core: CoordinatorCore, transport: ServerTransport, logger: Logger = Logger(label: "octet.coordinator")) {
        self.core = core
        self.transport = transport
        self.logger = logger
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

    /// Reloads stored jobs, then serves until `stop()`.
    public func run() throws {
        perform(try core.resume())
        while !isStopping { step(timeoutMs: 20) }
    }

    /// One turn of the loop: background results, up to 1000 messages, liveness.
    public func step(timeoutMs: Int) {
        lock.lock()
        let events = inbox
        inbox.removeAll()
        lastStep = Date().timeIntervalSince1970
        lock.unlock()
        for e in events { perform(core.handle(e)) }
        var wait = timeoutMs
        for _ in 0..<1000 {
            let incoming: (peer: PeerID, bytes: [UInt8])?
            do { incoming = try transport.receive(timeoutMs: wait) } catch {
                logger.error("receive failed", metadata: ["error": "\(error)"])
                break
            }
            guard let (peer, bytes) = incoming else { break }
            perform(core.handle(.message(peer, bytes)))
            wait = 0
        }
        let t = Date().timeIntervalSince1970
        if t - lastTick >= 0.2 {
            lastTick = t
            perform(core.handle(.tick))
            let s = core.status().json()
            lock.lock(); snapshot = s; lock.unlock()
        }
    }

    func perform(_ actions: [CoordinatorAction]) {
        for a in actions {
            switch a {
            case .send(let peer, let bytes):
                do { try transport.send(bytes, to: peer) } catch {
                    logger.warning("send failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                }
            case .prepare(let job):
                let handler = core.handlers[job.spec.kind]
                work.async { [self] in post(.prepared(job.id, handler?.prepare(job) ?? .failure(Self.noHandler(job)))) }
            case .finalize(let job, let tasks):
                let handler = core.handlers[job.spec.kind]
                work.async { [self] in post(.finalized(job.id, handler?.finalize(job, tasks) ?? .failure(Self.noHandler(job)))) }
            case .ended(let job):
                let handler = core.handlers[job.spec.kind]
                work.async { handler?.ended(job) }
            }
        }
    }

    /// A stored job of a kind this coordinator's build does not run (it was submitted to another).
    static func noHandler(_ job: JobRecord) -> JobFailure {
        JobFailure("this coordinator runs no '\(job.spec.kind)' jobs")
    }

    func post(_ event: CoordinatorEvent) {
        lock.lock(); inbox.append(event); lock.unlock()
    }
}
