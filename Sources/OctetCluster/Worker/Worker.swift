import Foundation
import Logging
import OctetKernels

/// Runs a `WorkerCore` over a transport: one thread for messages and heartbeats, tasks computed
/// on a background thread so heartbeats continue during long shards.
public final class Worker: @unchecked Sendable {
    public let core: WorkerCore
    let transport: ClientTransport
    let executor: TaskExecutor
    let logger: Logger
    private let lock = NSLock()
    private var inbox: [WorkerEvent] = []
    private var exited = false

    public init(core: WorkerCore, transport: ClientTransport, executor: TaskExecutor, logger: Logger = Logger(label: "octet.worker")) {
        self.core = core
        self.transport = transport
        self.executor = executor
        self.logger = logger
    }

    /// The Hello a worker on this machine sends.
    public static func hello(id: String, threads: Int, isa: ISA) -> Octet_Wire_Hello {
        var h = Octet_Wire_Hello()
        h.workerID = id
        h.host = ProcessInfo.processInfo.hostName
        h.cores = UInt32(ProcessInfo.processInfo.activeProcessorCount)
        h.threads = UInt32(threads)
        h.isa = isa.rawValue
        h.isas = ISA.supported.map(\.rawValue)
        h.softwareVersion = OctetVersion.string
        return h
    }

    /// Asks the worker to finish its task, say goodbye and return from `run` (any thread).
    public func stop() { post(.stop) }

    func post(_ e: WorkerEvent) { lock.lock(); inbox.append(e); lock.unlock() }

    /// Why the worker stopped on its own, if it did (nil after a clean stop).
    public private(set) var failure: String?

    public func run() {
        // While a task computes, its end is noticed within a millisecond (it arrives in the
        // inbox, not on the socket); idle, the loop waits on the socket longer.
        while !step(timeoutMs: core.isComputing ? 1 : 20) {}
    }

    /// One turn; true once the worker has said goodbye.
    public func step(timeoutMs: Int) -> Bool {
        lock.lock()
        let events = inbox
        inbox.removeAll()
        lock.unlock()
        for e in events { if perform(core.handle(e)) { return true } }
        var wait = timeoutMs
        for _ in 0..<100 {
            let bytes: [UInt8]?
            do { bytes = try transport.receive(timeoutMs: wait) } catch {
                logger.error("receive failed", metadata: ["error": "\(error)"])
                break
            }
            guard let bytes else { break }
            if perform(core.handle(.message(bytes))) { return true }
            wait = 0
        }
        return perform(core.handle(.tick))
    }

    /// Carries out actions; true on exit.
    func perform(_ actions: [WorkerAction]) -> Bool {
        for a in actions {
            switch a {
            case .send(let bytes):
                do { try transport.send(bytes) } catch { logger.warning("send failed", metadata: ["error": "\(error)"]) }
            case .compute(let assignment):
                let id = core.hello.workerID
                Thread.detachNewThread { [self] in
                    let r = Result { try executor.run(assignment, workerID: id) }
                        .mapError { TaskError(message: describe($0), permanent: TaskExecutor.isPermanent($0)) }
                    post(.computed(r))
                }
            case .exit:
                return true
            case .fail(let message):
                logger.error("worker stopping", metadata: ["error": "\(message)"])
                failure = message
                return true
            }
        }
        return false
    }
}

/// The software version workers announce.
public enum OctetVersion {
    public static let string = "0.4.0"
}
