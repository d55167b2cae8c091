import ArgumentParser
import Foundation
import Logging
import OctetCluster
import OctetJobs
import OctetPipeline

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: accepts workers and jobs, shards work, merges results, stores job state.")

    @Option(help: "ZeroMQ endpoint to listen on (tcp://*:5555 listens on every interface).")
    var bind: String = "tcp://127.0.0.1:5555"

    @Option(help: "Folder for the job database, blobs and artifacts; a restarted coordinator resumes from it.")
    var state: String = "octet-state"

    @Option(help: "Serve /status and /metrics over HTTP at HOST:PORT.")
    var http: String?

    @Option(help: "The coordinator's CURVE key pair (NAME.key), from `octet keys generate`.")
    var keys: String?

    @Option(help: "Folder of *.pub files (or one .pub file): the workers and clients admitted. Required with --keys.")
    var authorized: String?

    @Flag(help: "Allow binding beyond loopback without CURVE keys.")
    var insecure = false

    @Option(help: "Seconds between worker heartbeats.")
    var heartbeatInterval: Double = 1

    @Option(help: "Seconds of silence after which a worker is lost and its task reassigned.")
    var heartbeatTimeout: Double = 5

    @Option(help: "Largest message accepted, in bytes.")
    var maxMessageBytes: Int = WireProtocol.defaultMaxMessageBytes

    @Option(help: "Times a task may fail or lose its worker before its job fails with the last reason (a task that crashes every worker must not loop).")
    var maxAttempts: Int = 5

    @Option(help: "Seconds an assigned task may go without a result before it is handed to another worker (a lost assignment or result, a stuck worker).")
    var taskTimeout: Double = 600

    @Option(help: "Inference tasks run ahead of what the job's client has written (a slow client or disk holds the job back instead of results piling up).")
    var outputWindow: Int = 256

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Log every message rejection and task event (debug level).")
    var verbose = false

    func validate() throws {
        if (keys == nil) != (authorized == nil) { throw ValidationError("--keys and --authorized go together") }
        if keys == nil && !insecure && !isLoopbackEndpoint(bind) {
            throw ValidationError("refusing to bind \(bind) beyond loopback without CURVE keys: pass --keys and --authorized (see `octet keys generate`), or --insecure")
        }
        guard taskTimeout > 0 else { throw ValidationError("--task-timeout must be positive") }
        guard heartbeatInterval > 0, heartbeatTimeout > heartbeatInterval else { throw ValidationError("--heartbeat-timeout must exceed --heartbeat-interval > 0") }
        guard maxMessageBytes >= 1 << 16 else { throw ValidationError("--max-message-bytes must be at least 65536") }
        guard outputWindow >= 1 else { throw ValidationError("--output-window must be at least 1") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
    }

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "octet.coordinator")
        logger.logLevel = verbose ? .debug : .info
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let plan = try runtime.planOptions()
        var settings = CoordinatorSettings()
        settings.heartbeatInterval = heartbeatInterval
        settings.heartbeatTimeout = heartbeatTimeout
        settings.maxMessageBytes = maxMessageBytes
        settings.maxTaskAttempts = maxAttempts
        settings.taskTimeout = taskTimeout
        settings.outputWindow = outputWindow
        let store = try JobStore(path: (state as NSString).appendingPathComponent("jobs.sqlite"))
        let blobs = try BlobStore(directory: (state as NSString).appendingPathComponent("blobs"))
        // Metrics go to Prometheus from the first one the core makes (`/metrics` serves them).
        if http != nil { _ = StatusHTTPServer.registry }
        let handlers = JobKinds.handlers(blobs: blobs, store: store, directory: (state as NSString).appendingPathComponent("jobs"),
                                         threads: plan.threads, isa: plan.isa)
        let core = CoordinatorCore(settings: settings, blobs: blobs, handlers: handlers, logger: logger)
        var curve: CurveSecurity?
        if let keys, let authorized {
            curve = CurveSecurity(keys: try CurveKeyPair.load(path: keys), authorized: try CurveKeyPair.readAuthorized(authorized))
        }
        let transport = try ZMQServerTransport(bind: bind, maxMessageBytes: maxMessageBytes, curve: curve)
        let coordinator = Coordinator(core: core, store: store, transport: transport, logger: logger)
        var server: StatusHTTPServer?
        if let http {
            guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]) else {
                throw ValidationError("--http takes HOST:PORT")
            }
            let host = String(http[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let parts = [host, String(port)]
            server = try StatusHTTPServer(host: String(parts[0]), port: port, status: { coordinator.statusJSON },
                                          healthy: { coordinator.isResponsive() })
            logger.info("HTTP status on http://\(parts[0]):\(server?.port ?? port)/status, /metrics and the live page /ui")
        }
        let trap = SignalTrap { coordinator.stop() }
        logger.info("coordinator listening", metadata: ["endpoint": "\(transport.endpoint)", "curve": "\(curve != nil)",
                                                         "state": "\(state)", "isa": "\(plan.isa)"])
        try coordinator.run()
        _ = trap
        server?.close()
        logger.info("coordinator stopped")
    }
}
