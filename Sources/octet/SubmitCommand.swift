import ArgumentParser
import Foundation
import OctetCluster
import OctetCore
import OctetIR
import OctetJobs
import OctetPipeline

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job to the coordinator.",
        subcommands: [SubmitCalibrate.self, SubmitInfer.self])
}

/// The dataset flags of a submitted job and how its samples reach the workers.
struct JobDataOptions: ParsableArguments {
    @OptionGroup var data: DataOptions

    @Flag(help: "Upload the images through the coordinator (for workers that share no storage with this machine).")
    var shipData = false

    /// The job spec of `options` on `model`, uploaded (the images are uploaded with --ship-data
    /// when `options` is made, by `spec`).
    func jobSpec<Options: JobOptions>(_ options: Options, model: String, client: ClusterClient) throws -> JobSpec {
        options.spec(modelHash: try client.uploadFile(model), modelName: URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent)
    }

    /// The dataset spec: absolute shared paths, or every image uploaded as a blob.
    func spec(model: String, client: ClusterClient) throws -> DatasetSpec {
        let recipe = try data.recipe(model: model)
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        guard shipData else {
            _ = try data.dataset(model: model)  // fail here, not on the workers, if the data is unreadable
            return DatasetSpec(path: absolute(data.data), labels: data.labels.map(absolute), manifest: nil, recipe: recipe,
                               offset: data.offset, limit: data.limit)
        }
        guard !data.data.lowercased().hasSuffix(".npy") else { throw ValidationError("--ship-data ships image folders; copy .npy files to shared storage") }
        let folder = try ImageFolderDataset(directory: data.data, labels: data.labels, recipe: recipe)
        guard data.offset < folder.items.count else { throw ValidationError("--offset \(data.offset) skips all \(folder.items.count) images") }
        let end = data.limit.map { min(folder.items.count, data.offset + $0) } ?? folder.items.count
        return try DatasetSpec.shipping(folder.items[data.offset..<end], recipe: recipe, through: client)
    }
}

struct SubmitCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Calibrate on the cluster: same options and artifacts as `octet calibrate`.")

    @Argument(help: "FP32 ONNX model.")
    var model: String

    @OptionGroup var jobData: JobDataOptions
    @OptionGroup var calibration: CalibrationFlags
    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output folder for the artifacts (written when the job is done; needs --wait).")
    var out: String?

    @Option(help: "Samples per shard.")
    var shardSize: Int = 32

    @Option(help: "Held-out samples the INT8 model is checked on (FP32 vs INT8 top-1 agreement).")
    var verifySamples: Int = 32

    @Option(help: "FP32 kernel path every worker uses for calibration (default: the coordinator's best).")
    var isa: String?

    @Flag(help: "Follow the job to the end, then download the artifacts to --out.")
    var wait = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if out != nil && !wait { throw ValidationError("--out needs --wait (or fetch later with `octet fetch JOB --out DIR`)") }
        guard shardSize >= 1 else { throw ValidationError("--shard-size must be at least 1") }
        guard verifySamples >= 0 else { throw ValidationError("--verify-samples must not be negative") }
    }

    func run() throws {
        _ = try ModelLoader.load(path: model)  // a clear error here for a corrupt or unsupported model
        let client = try connection.client()
        var options = CalibrationJobOptions(dataset: try jobData.spec(model: model, client: client), calibration: try calibration.config())
        options.shardSize = shardSize
        options.verifySamples = verifySamples
        options.isa = isa
        let id = try client.submit(try jobData.jobSpec(options, model: model, client: client))
        guard wait else {
            if json { try printJSON(["job": id]) } else { print(id) }
            return
        }
        if !json { FileHandle.standardOutput.write(Data("job \(id)\n".utf8)) }
        try followAndFetch(client: client, id: id, out: out, json: json)
    }
}

struct SubmitInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run INT8 batch inference on the cluster; writes one JSON line per image, in input order, exactly once.",
        discussion: """
            Lines are written as tasks finish, each batch flushed to disk and recorded in OUT.commit. \
            If this command is killed, the same command with --resume continues the job where its \
            output stopped: no line is lost or written twice. The coordinator runs at most its \
            --output-window tasks ahead of what this command has written.
            """)

    @Argument(help: "INT8 QDQ ONNX model (from `octet calibrate`, or another tool's).")
    var model: String

    @OptionGroup var jobData: JobDataOptions
    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output: a JSON-lines file (top-k), or a folder (every output: shard-NNNNNN.npz per task and index.jsonl); its commit log is OUT.commit or OUT/index.jsonl.commit.")
    var out: String

    @Option(help: "What each image returns: topk (a classifier's top-5 classes and scores), tensors (every output, for detectors, OCR and other models), or auto (topk for a model with one [N, classes] output).")
    var outputs: String = "auto"

    @Option(help: "Images per task (one batch on a worker). Default: adapted to the model, about 32 images of 224×224's worth of input pixels (1 to 64; 4 when the input size varies).")
    var batch: Int?

    @Flag(help: "Continue the job recorded in OUT.commit instead of submitting a new one.")
    var resume = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard ["auto", "topk", "tensors"].contains(outputs) else { throw ValidationError("--outputs is auto, topk or tensors") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    /// What the job returns: `--outputs`, or for auto, top-k for a model with one rank-2 output.
    func outputKind(_ graph: Graph) -> InferenceJobOptions.Outputs {
        if let kind = InferenceJobOptions.Outputs(rawValue: outputs) { return kind }
        return graph.outputs.count == 1 && graph.outputs[0].dims.count == 2 ? .topk : .tensors
    }

    func run() throws {
        let started = Date()
        let graph = try ModelLoader.loadQDQ(path: model)
        guard graph.nodes.contains(where: { $0.op.isQDQ }) else { throw ValidationError("\(model) is not a QDQ (INT8) model: calibrate it first") }
        let client = try connection.client()
        let kind = outputKind(graph)
        // Every output: OUT is a folder of shards with their index.
        var path = out
        if kind == .tensors {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            path = (out as NSString).appendingPathComponent("index.jsonl")
        }
        let output: CommittedOutput
        if resume {
            output = try CommittedOutput(resuming: path)
            guard let bytes = FileManager.default.contents(atPath: model) else { throw ValidationError("cannot read \(model)") }
            guard ContentHash.sha256([UInt8](bytes)) == output.log.modelHash else {
                throw ValidationError("\(out) holds the output of job \(output.log.job) for another model than \(model)")
            }
        } else {
            var options = InferenceJobOptions(dataset: try jobData.spec(model: model, client: client))
            options.batch = batch ?? InferenceJobOptions.defaultBatch(inputCHW: try? ModelLoader.imageInput(of: graph).chw)
            options.outputs = kind
            let spec = try jobData.jobSpec(options, model: model, client: client)
            let id = try client.submit(spec)
            output = try CommittedOutput(creating: path, job: id, modelHash: spec.modelHash)
        }
        let id = output.log.job, before = output.log.lines
        if !json { FileHandle.standardOutput.write(Data("job \(id)\(resume ? " (resumed at \(before) lines)" : "")\n".utf8)) }
        let bar = ProgressBar(label: "job \(id)", enabled: !json && System.stderrIsTerminal)
        let shards = (output.path as NSString).deletingLastPathComponent
        let last = try client.streamResults(id, into: output, lines: { try InferenceOutputs.lines(of: $0, shardDirectory: shards) }) { b in
            if b.tasksTotal > 0 { bar.update(Int(b.firstTask) + b.results.count, Int(b.tasksTotal)) }
        }
        let wall = Date().timeIntervalSince(started)
        let written = output.log.lines - before
        let unreadable = try UnreadableLine.count(inFile: output.path)
        // Every other image has its output: the command says how many could not be read and exits 2.
        defer {
            if unreadable > 0 {
                FileHandle.standardError.write(Data("Error: \(UnreadableImages(count: unreadable, images: output.log.lines, out: output.path))\n".utf8))
                Self.exit(withError: ExitCode(UnreadableImages.exitStatus))
            }
        }
        let summary: [String: Any] = ["job": id, "out": out, "outputs": kind.rawValue, "images": output.log.lines, "written": written, "resumed": resume,
                                      "unreadable": unreadable, "wall_seconds": wall, "images_per_second": Double(written) / max(wall, 1e-9), "state": last.state]
        if json { return try printJSONObject(summary) }
        print("\(output.log.lines) predictions in \(out) (\(written) written now): \(String(format: "%.1f", Double(written) / max(wall, 1e-9))) images/s end to end")
    }
}

/// A finished inference job some of whose images could not be read: their lines say why, every
/// other image has its output. Exit status 2, so that a script can tell it from a failed job (1).
struct UnreadableImages: CustomStringConvertible {
    static let exitStatus: Int32 = 2
    let count: Int, images: Int, out: String
    var description: String {
        "\(count) of \(images) images could not be read; their lines in \(out) carry \"error\" (every other image has its output)"
    }
}

/// Follows a job with a progress bar; throws if it failed.
func follow(client: ClusterClient, id: String, json: Bool) throws -> Octet_Wire_JobReport {
    let bar = ProgressBar(label: "job \(id)", enabled: !json && System.stderrIsTerminal)
    var phase = ""
    let report = try client.wait(id) { r in
        if r.phase != phase, !json, !System.stderrIsTerminal { FileHandle.standardError.write(Data("job \(id): \(r.phase)\n".utf8)) }
        phase = r.phase
        if r.tasksTotal > 0 && r.state != "done" { bar.update(Int(r.tasksDone), Int(r.tasksTotal)) }
    }
    guard report.state == "done" else { throw ValidationError("job \(id) failed: \(report.error)") }
    return report
}

/// Follows a calibration job, downloads its artifacts and prints where they are.
func followAndFetch(client: ClusterClient, id: String, out: String?, json: Bool) throws {
    let report = try follow(client: client, id: id, json: json)
    let paths = try out.map { try client.fetchArtifacts(report, to: $0) } ?? []
    let summary = jobSummary(report)
    if json { return try printJSONObject(summary.merging(["job": id, "artifacts": paths]) { $1 }) }
    if let a = summary["agreement"] as? Double {
        let n = summary["verification_samples"] as? Int ?? 0
        print(String(format: "INT8 vs FP32 top-1 agreement on %d %@ samples (checked on the workers): %.1f%%", n,
                     (summary["verification_held_out"] as? Bool ?? false) ? "held-out" : "calibration", a * 100))
    }
    for p in paths { print("  \(p)") }
}

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fetch", abstract: "Download a finished job's artifacts.")

    @Argument(help: "Job id.")
    var job: String

    @Option(help: "Output folder.")
    var out: String

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        if try client.job(job).kind == InferenceJobOptions.kind {
            throw ValidationError("job \(job) is an inference job: its output is the file `octet submit infer --out` writes; run that command again with --resume to continue it")
        }
        try followAndFetch(client: client, id: job, out: out, json: false)
    }
}

/// A finished job's summary document (agreement, throughput...).
func jobSummary(_ report: Octet_Wire_JobReport) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(report.summaryJson.utf8))) as? [String: Any] ?? [:]
}

/// Prints a JSON object on one line with sorted keys.
func printJSONObject(_ object: [String: Any]) throws {
    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
}
