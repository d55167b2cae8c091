import ArgumentParser
import Foundation
import OctetPipeline

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an FP32 model over images or a .npy batch: every output, top-1/top-5 for classifiers, throughput.")

    @Argument(help: "ONNX model file.")
    var model: String

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var inputShape: InputShapeOptions

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Option(help: "Write every output of every image to FILE.npz (one array per output, keyed by its name, images in input order).")
    var saveOutputs: String?

    @Flag(help: "Print one JSON object (keys images, top1, top5, images_per_second, outputs, ...).")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let dataset = try dataOptions.dataset(model: model)
        let shapes = try inputShape.shapes()
        let runner = try ModelRun(graph: graph, options: try runtime.planOptions(), inputShapes: shapes)
        let writer = try saveOutputs.map { try NPZWriter(path: $0) }
        let bar = ProgressBar(label: "run", enabled: !json && System.stderrIsTerminal)
        let report = try runner.evaluate(dataset, batch: batch, saveOutputs: writer) { bar.update($0, $1) }
        if json { return try printJSON(report) }
        print("images:     \(report.images) (\(report.labeled) labeled)")
        for (name, dims) in (report.outputs ?? [:]).sorted(by: { $0.key < $1.key }) { print("output:     \(name) \(dims)") }
        if let t1 = report.top1, let t5 = report.top5 {
            print(String(format: "top-1:      %.2f%%\ntop-5:      %.2f%%", t1 * 100, t5 * 100))
        }
        if let saveOutputs { print("saved:      \(saveOutputs)") }
        print(String(format: "throughput: %.1f images/s (batch %d, %d threads, %@)", report.imagesPerSecond, report.batch,
                     report.threads, report.isa))
    }
}
