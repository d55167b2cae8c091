import Dispatch
import Foundation
import Logging

/// Runs a `WorkerCore` over a transport: one thread for messages and heartbeats (it never
/// touches the disk), fetched chunks written to the cache on an I/O queue, tasks computed on a
/// background thread so heartbeats continue during long shards.
public final class Worker: @unchecked Sendable {
    /// The state machine, mutated by the loop thread only.
    private var core: WorkerCore
    /// Writes fetched chunks to the cache, in order (one is in flight at a time).
    private let io = DispatchQueue(label: "octet.worker.io")
    let transport: ClientTransport
    /// The job kinds it runs.
    let runners: TaskRunners
    let logger: Logger
    private let lock = NSLock()
    private var inbox: [WorkerEvent] = []
    private var exited = false
    /// Inputs being prepared for queued tasks, by task (`.prepare`); `.compute` takes its own.
    private var prepared: [String: PreparedSlot] = [:]

    /// One task's input, prepared on its own thread.
    final class PreparedSlot: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var input: PreparedInput?
    }

    /// Whether the next task's images are decoded on their own thread while one computes
    /// (`.prepare`); off, a prepared task is decoded when it starts (its blobs are still fetched ahead).
    public let decodeAhead: Bool

    public init(core: WorkerCore, transport: ClientTransport, runners: TaskRunners, decodeAhead: Bool = false,
                logger: Logger = Logger(label: "octet.worker")) {
        self.decodeAhead = decodeAhead
        self.core = core
        self.transport = transport
        self.runners = runners
        self.logger = logger
    }

    /// The Hello a worker on this machine sends: `isa` the kernel path it chose, `isas` every
    /// path it can run (a job may require one), `credit` the tasks it holds at once (2: it
    /// prepares the next while one computes).
    public static func hello(id: String, threads: Int, isa: String, isas: [String], credit: Int = 2) -> Octet_Wire_Hello {
        var h = Octet_Wire_Hello()
        h.workerID = id
        h.host = ProcessInfo.processInfo.hostName
        h.cores = UInt32(ProcessInfo.processInfo.activeProcessorCount)
        h.threads = UInt32(threads)
        h.isa = isa
        h.isas = isas
        h.softwareVersion = OctetVersion.string
        h.credit = UInt32(max(credit, 1))
        return h
    }

    /// Asks the worker to finish its task, say goodbye and return from `run` (any thread).
    public func stop() { post(.stop) }

    func post(_ e: WorkerEvent) { lock.lock(); inbox.append(e); lock.unlock() }

    /// Why the worker stopped on its own, if it did (nil after a clean stop).
    public private(set) var failure: String?

    /// Tasks computed and sent; read once `run` has returned.
    public var tasksDone: Int { core.tasksDone }

    public func run() {
        // While a task computes, its end is noticed within a millisecond (it arrives in the
        // inbox, not on the socket); idle, the loop waits on the socket longer.
        while !step(timeoutMs: core.isComputing || core.isStoring ? 1 : 20) {}
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
            case .prepare(let assignment):
                guard decodeAhead else { continue }
                let slot = PreparedSlot()
                lock.lock(); prepared[PreparedInput.key(assignment)] = slot; lock.unlock()
                Thread.detachNewThread { [runners] in
                    slot.input = runners.prepare(assignment)
                    slot.done.signal()
                }
            case .compute(let assignment):
                let id = core.hello.workerID
                lock.lock(); let slot = prepared.removeValue(forKey: PreparedInput.key(assignment)); lock.unlock()
                Thread.detachNewThread { [self] in
                    let input: PreparedInput? = slot.flatMap { s in s.done.wait(); return s.input }
                    post(.computed(runners.run(assignment, workerID: id, prepared: input)))
                }
            case .storeChunk(let put):
                let cache = core.cache, maxSize = core.maxBlobBytes
                io.async { [self] in
                    let result: Result<Octet_Wire_BlobAck, WireError>
                    do throws(WireError) { result = .success(try cache.receive(put, maxSize: maxSize)) } catch { result = .failure(error) }
                    post(.chunkStored(hash: put.hash, offset: put.offset, result))
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
    public static let string = "0.5.0"
}
