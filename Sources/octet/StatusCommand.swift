import ArgumentParser
import Foundation
import OctetCluster

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the coordinator's workers and jobs.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Refresh every second until interrupted.")
    var watch = false

    @Flag(help: "Print the status document as JSON.")
    var json = false

    func run() throws {
        let client = try connection.client()
        repeat {
            let s = try client.status()
            if json { print(s.json()) } else {
                if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(Self.table(s))
            }
            if watch { Thread.sleep(forTimeInterval: 1) }
        } while watch
    }

    static func table(_ s: ClusterStatus) -> String {
        var lines = ["workers: \(s.workers.filter { $0.state != "lost" }.count) live, \(s.workers.filter { $0.state == "lost" }.count) lost"]
        let pad = { (v: String, n: Int) in v.count >= n ? v + " " : v + String(repeating: " ", count: n - v.count) }
        lines.append(pad("ID", 24) + pad("STATE", 6) + pad("ISA", 11) + pad("JOB/TASK", 18) + pad("IMG/S", 8) + "HEARTBEAT")
        for w in s.workers {
            let task = w.job.map { "\($0)/\(w.task ?? 0)" } ?? "-"
            lines.append(pad(w.id, 24) + pad(w.state, 6) + pad(w.isa, 11) + pad(task, 18) + pad(String(format: "%.1f", w.imagesPerSecond), 8)
                         + String(format: "%.1fs ago", w.lastHeartbeatSecondsAgo))
        }
        lines.append("")
        lines.append("jobs: \(s.jobs.count)")
        lines.append(pad("ID", 14) + pad("KIND", 10) + pad("STATE", 11) + pad("PROGRESS", 14) + "ETA")
        for j in s.jobs {
            let progress = "\(j.tasksDone)/\(j.tasksTotal) " + String(format: "%3.0f%%", j.progress * 100)
            lines.append(pad(j.id, 14) + pad(j.kind, 10) + pad(j.state, 11) + pad(progress, 14)
                         + (j.etaSeconds > 0 ? String(format: "%.0fs", j.etaSeconds) : "-") + (j.error.map { "  error: \($0)" } ?? "")
                         + (j.waitingForClient == true ? "  waiting for its client to write \(j.tasksWritten ?? 0)+ (submit infer --resume)" : ""))
        }
        let rejected = s.rejectedMessages.values.reduce(0, +)
        lines.append("")
        lines.append("messages: \(s.messagesReceived) received, \(rejected) rejected")
        return lines.joined(separator: "\n")
    }
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "CURVE keys for the cluster.",
                                                    subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub.")

        @Option(help: "Output folder.")
        var out: String = "keys"

        @Option(help: "Key name, e.g. coordinator, worker-1, client.")
        var name: String

        func run() throws {
            guard !name.isEmpty, !name.contains("/") else { throw ValidationError("--name must be a plain file name") }
            let pair = try CurveKeyPair.generate()
            try pair.write(to: out, name: name)
            print("\((out as NSString).appendingPathComponent(name)).key  (secret)")
            print("\((out as NSString).appendingPathComponent(name)).pub  \(pair.publicKey)")
        }
    }
}

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "A local cluster on this machine.",
                                                    subcommands: [Up.self])

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a coordinator and N workers on this machine; Ctrl-C (or SIGTERM) stops them all.")

        @Option(help: "Number of workers.")
        var workers: Int = 2

        @Option(help: "Coordinator endpoint.")
        var bind: String = "tcp://127.0.0.1:5555"

        @Option(help: "Coordinator state folder.")
        var state: String = "octet-state"

        @Option(help: "Threads per worker (default: cores / workers, at least 1).")
        var threads: Int?

        @Option(help: "Serve /status and /metrics at HOST:PORT.")
        var http: String?

        @Option(help: "Kernel path for every process.")
        var isa: String?

        func validate() throws {
            guard (1...64).contains(workers) else { throw ValidationError("--workers must be in 1...64") }
            guard isLoopbackEndpoint(bind) else { throw ValidationError("a local cluster binds loopback or ipc:// only") }
        }

        func run() throws {
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            let perWorker = threads ?? max(1, System.coreCount / workers)
            var isaArgs: [String] = []
            if let isa { isaArgs = ["--isa", isa] }
            var coordinatorArgs = ["coordinator", "--bind", bind, "--state", state] + isaArgs
            if let http { coordinatorArgs += ["--http", http] }
            var children: [Process] = []
            func start(_ args: [String]) throws {
                let p = Process()
                p.executableURL = exe
                p.arguments = args
                try p.run()
                children.append(p)
            }
            try start(coordinatorArgs)
            for i in 1...workers {
                try start(["worker", "--connect", bind, "--id", "local-\(i)", "--threads", "\(perWorker)"] + isaArgs)
            }
            print("cluster up: coordinator on \(bind), \(workers) workers × \(perWorker) threads, state in \(state). Ctrl-C stops it.")
            let done = DispatchSemaphore(value: 0)
            let trap = SignalTrap { done.signal() }
            while done.wait(timeout: .now() + 0.5) == .timedOut {
                if let dead = children.first(where: { !$0.isRunning }) {
                    FileHandle.standardError.write(Data("cluster: \(dead.arguments?.first ?? "process") exited (status \(dead.terminationStatus)); stopping\n".utf8))
                    break
                }
            }
            _ = trap
            for p in children.reversed() where p.isRunning { kill(p.processIdentifier, SIGTERM) }
            for p in children.reversed() { p.waitUntilExit() }
            print("cluster down")
        }
    }
}
