import ArgumentParser
import Dispatch
import Foundation
import OctetCluster
import OctetJobs
import OctetPipeline

struct ClusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster",
        abstract: "Distributed calibration wall time from submit to artifacts with 1 and 2 worker processes (speed-up, the coordinator's own time and its share), histogram bytes per shard raw vs compressed, model broadcast time. OCTET_BENCH_PHASES=1 also prints each job's state timeline and the coordinator's steps.")

    @Option(help: "EfficientNet-Lite0 ONNX file.")
    var efficientnet: String = "../shared/models/efficientnet_lite0_fp32.onnx"

    @Option(help: "Image folder.")
    var data: String = "../shared/data/imagenet-sample"

    @Option(help: "Calibration samples (issue #17 measures all 500 shared images).")
    var samples: Int = 500

    @Option(help: "Samples per shard.")
    var shardSize: Int = 16

    @Option(parsing: .upToNextOption, help: "Worker counts to compare.")
    var workers: [Int] = [1, 2]

    @Option(help: "Threads per worker (1: each worker process uses one core, so N workers use N cores).")
    var threadsPerWorker: Int = 1

    @Option(help: "Weight rounding: nearest, or adaround (its layers run as tasks on the workers).")
    var weightRounding: String = "nearest"

    @Option(help: "The accuracy-driven search's bound in points of the default metric (agreement), as `octet calibrate --max-drop`: its ranking runs as tasks on the workers. Off when not given.")
    var maxDrop: Double?

    @Option(help: "The metric of --max-drop: top1, agreement or sqnr (the default: agreement for a classifier).")
    var metric: String?

    struct Run {
        var workers: Int
        var threads: Int
        var wall: Double
        var prepare: Double
        var shardPhase: Double
        var finalize: Double
        /// The coordinator's own time (its preparation and finalization steps), from the job summary.
        var coordinator: Double
        var shards: [(raw: Int, compressed: Int)]
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: efficientnet) else { throw ValidationError("\(efficientnet) not found") }
        let octet = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("octet")
        var runs: [Run] = []
        for n in workers {
            runs.append(try calibrate(octet: octet, workers: n, threads: threadsPerWorker))
        }
        print("\(samples) samples in shards of \(shardSize); the coordinator (2 threads) plans, searches thresholds, quantizes and writes; the workers run the weight analysis, histogram and measure the report (no verification samples here); weight rounding: \(weightRounding)\(maxDrop.map { "; --max-drop \($0) --metric \(metric ?? "agreement")" } ?? "")")
        print("")
        print("| workers | threads each | wall s | speed-up | coordinator's own s | its share of the wall | prepare s | shards s | after the shards s | shard speed-up |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        let base = runs.first
        for r in runs {
            print(String(format: "| %d | %d | %.2f | %.2f× | %.2f | %.0f%% | %.2f | %.2f | %.2f | %.2f× |", r.workers, r.threads, r.wall,
                         (base?.wall ?? r.wall) / r.wall, r.coordinator, 100 * r.coordinator / r.wall, r.prepare, r.shardPhase, r.finalize,
                         (base?.shardPhase ?? r.shardPhase) / r.shardPhase))
        }
        if let shards = runs.first?.shards, !shards.isEmpty {
            let raw = shards.map(\.raw).reduce(0, +) / shards.count, packed = shards.map(\.compressed).reduce(0, +) / shards.count
            print("")
            print(String(format: "histograms per shard: %d bytes raw (dense Int64), %d bytes byte-shuffled + LZ4 (%.1f× smaller)",
                         raw, packed, Double(raw) / Double(max(packed, 1))))
        }
        try broadcast(octet: octet)
    }

    func coordinator(_ octet: URL, endpoint: String, state: String, threads: Int) throws -> Process {
        let p = Process()
        p.executableURL = octet
        p.arguments = ["coordinator", "--bind", endpoint, "--state", state, "--threads", "\(threads)"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func calibrate(octet: URL, workers n: Int, threads: Int) throws -> Run {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-cluster-bench-\(getpid())-\(n)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let endpoint = "ipc://" + dir.appendingPathComponent("c.ipc").path
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let state = dir.appendingPathComponent("state").path
        var processes = [try coordinator(octet, endpoint: endpoint, state: state, threads: ProcessInfo.processInfo.activeProcessorCount)]
        defer { for p in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }; for p in processes { p.waitUntilExit() } }
        for i in 0..<n {
            let w = Process()
            w.executableURL = octet
            w.arguments = ["worker", "--connect", endpoint, "--id", "bench-\(i)", "--threads", "\(threads)", "--cache", dir.appendingPathComponent("cache-\(i)").path]
            w.standardError = FileHandle.nullDevice
            try w.run()
            processes.append(w)
        }
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20))
        while (try? client.status().workers.count) != n { Thread.sleep(forTimeInterval: 0.05) }
        var o = QuantConfig()
        o.samples = samples
        guard let rounding = WeightRounding(rawValue: weightRounding) else { throw ValidationError("--weight-rounding is nearest or adaround") }
        o.weightRounding = rounding
        if let maxDrop {
            let m = try metric.map { name in
                guard let m = AccuracyMetric(rawValue: name) else { throw ValidationError("--metric is top1, agreement or sqnr") }
                return m
            }
            o.accuracy = AccuracyBound(maxDrop: maxDrop, metric: m)
        }
        var options = CalibrationJobOptions(dataset: DatasetSpec(path: URL(fileURLWithPath: data).standardizedFileURL.path, labels: nil, manifest: nil,
                                                                 recipe: .efficientNetLite),
                                            calibration: o)
        options.shardSize = shardSize
        options.verifySamples = 0
        let spec = options.spec(modelHash: try client.uploadFile(efficientnet), modelName: "effnet")
        let t0 = DispatchTime.now().uptimeNanoseconds
        let id = try client.submit(spec)
        var running: UInt64?, finalizing: UInt64?
        var phases: [(String, UInt64)] = []
        let report = try client.wait(id, poll: 0.02) { r in
            let t = DispatchTime.now().uptimeNanoseconds
            if r.state == "running" && running == nil { running = t }
            if (r.state == "finalizing" || r.state == "done") && finalizing == nil { finalizing = t }
            if phases.last?.0 != r.state { phases.append((r.state, t)) }
        }
        let summary = (try? JSONSerialization.jsonObject(with: Data(report.summaryJson.utf8))) as? [String: Any] ?? [:]
        let coordinator = summary["coordinator_seconds"] as? Double ?? .nan
        if ProcessInfo.processInfo.environment["OCTET_BENCH_PHASES"] != nil {
            print(summary["coordinator_steps"] ?? "")
            print(phases.map { String(format: "%@ %.2f", $0.0, Double($0.1 - t0) / 1e9) }.joined(separator: ", "))
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        guard report.state == "done" else { throw ValidationError("calibration failed: \(report.error)") }
        let store = try JobStore(path: state + "/jobs.sqlite")
        let all = try store.tasks(of: id)
        if ProcessInfo.processInfo.environment["OCTET_BENCH_PHASES"] != nil {
            for (t, r) in zip(all, try store.results(of: all)) where t.kind != "calibration" {
                print("  \(t.kind) \(t.start)..<\(t.end) on \(r.workerID): \(String(format: "%.3f", r.seconds)) s")
            }
        }
        let shards = try store.results(of: all.filter { $0.kind == "calibration" }).map { (Int($0.payload.rawSize), $0.payload.lz4.count) }
        let seconds = { (a: UInt64, b: UInt64) in Double(b - a) / 1e9 }
        return Run(workers: n, threads: threads, wall: seconds(t0, t1), prepare: seconds(t0, running ?? t0),
                   shardPhase: seconds(running ?? t0, finalizing ?? t1), finalize: seconds(finalizing ?? t1, t1), coordinator: coordinator, shards: shards)
    }

    /// Time for a peer to fetch the model from the coordinator in chunks (what each worker does once per model).
    func broadcast(octet: URL) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-cluster-bench-\(getpid())-b")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000..<60_000))"
        let c = try coordinator(octet, endpoint: endpoint, state: dir.appendingPathComponent("state").path, threads: 1)
        defer { kill(c.processIdentifier, SIGTERM); c.waitUntilExit() }
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20))
        let hash = try client.uploadFile(efficientnet)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let bytes = try client.download(hash)
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        print(String(format: "model broadcast: %.1f MB in %.3f s per worker over tcp loopback (%.0f MB/s, %d-MiB chunks, SHA-256 checked)",
                     Double(bytes.count) / 1e6, s, Double(bytes.count) / 1e6 / s, WireProtocol.blobChunkBytes >> 20))
    }
}
