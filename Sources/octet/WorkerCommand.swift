import ArgumentParser
import Foundation
import Logging
import OctetCluster
import OctetJobs
import OctetPipeline

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: joins the coordinator, runs calibration shards and INT8 inference batches.")

    @Option(help: "Coordinator address.")
    var connect: String = "tcp://127.0.0.1:5555"

    @Option(help: "Worker id (default: HOST-PID).")
    var id: String?

    @Option(help: "Folder caching models and shipped images by content hash (default: a per-worker temporary folder).")
    var cache: String?

    @Option(help: "This worker's CURVE key pair (NAME.key).")
    var keys: String?

    @Option(help: "The coordinator's CURVE public key (NAME.pub).")
    var serverKey: String?

    @Option(help: "Largest message accepted from the coordinator, in bytes.")
    var maxMessageBytes: Int = WireProtocol.defaultMaxMessageBytes * 2

    @Option(help: "Largest blob (model, image) accepted from the coordinator, in bytes.")
    var maxBlobBytes: UInt64 = 4 << 30

    @Option(help: "Tasks held at once (credit-based flow control): with 2, the next task is assigned and its blobs fetched while one computes.")
    var credit: Int = 2

    @Flag(help: "Also decode the next task's images on their own thread while one computes (pays when cores are idle during compute; on a machine the compute threads fill, it competes with them).")
    var decodeAhead = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (1...WorkerCore.maxQueuedAssignments).contains(credit) else { throw ValidationError("--credit must be in 1...\(WorkerCore.maxQueuedAssignments)") }
        if (keys == nil) != (serverKey == nil) { throw ValidationError("--keys and --server-key go together") }
        guard maxMessageBytes >= 1 << 16 else { throw ValidationError("--max-message-bytes must be at least 65536") }
        guard maxBlobBytes >= 1 else { throw ValidationError("--max-blob-bytes must be positive") }
    }

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "octet.worker")
        let plan = try runtime.planOptions()
        let workerID = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let cacheDir = cache ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("octet-cache-\(workerID)")
        var curve: CurveSecurity?
        if let keys, let serverKey {
            curve = CurveSecurity(keys: try CurveKeyPair.load(path: keys), serverPublicKey: try CurveKeyPair.readKey(serverKey))
        }
        let transport = try ZMQClientTransport(connect: connect, maxMessageBytes: maxMessageBytes, curve: curve)
        let blobs = try BlobStore(directory: cacheDir)
        let core = WorkerCore(hello: JobKinds.hello(id: workerID, threads: plan.threads, isa: plan.isa, credit: credit), cache: blobs,
                              maxBlobBytes: maxBlobBytes, maxMessageBytes: maxMessageBytes, logger: logger)
        let worker = Worker(core: core, transport: transport, runners: JobKinds.runners(cache: blobs, threads: plan.threads, isa: plan.isa),
                            decodeAhead: decodeAhead, logger: logger)
        let trap = SignalTrap { worker.stop() }
        logger.info("worker starting", metadata: ["id": "\(workerID)", "coordinator": "\(connect)", "isa": "\(plan.isa)", "threads": "\(plan.threads)"])
        worker.run()
        _ = trap
        // Give the goodbye a moment to leave the socket before the process exits.
        Thread.sleep(forTimeInterval: 0.2)
        if let failure = worker.failure { throw ValidationError(failure) }
        logger.info("worker stopped", metadata: ["tasks_done": "\(worker.tasksDone)"])
    }
}
