import ArgumentParser
import Foundation
import OctetPipeline

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an FP32 model over an image folder: top-1/top-5 accuracy and throughput.")

    @Argument(help: "ONNX model file.")
    var model: String

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Flag(help: "Print one JSON object (keys images, top1, top5, images_per_second, ...).")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let dataset = try dataOptions.dataset(model: model)
        let runner = try ClassificationRun(graph: graph, options: try runtime.planOptions())
        let bar = ProgressBar(label: "run", enabled: !json && System.stderrIsTerminal)
        let report = try runner.evaluate(dataset, batch: batch) { bar.update($0, $1) }
        if json { return try printJSON(report) }
        print("images:     \(report.images) (\(report.labeled) labeled)")
        if let t1 = report.top1, let t5 = report.top5 {
            print(String(format: "top-1:      %.2f%%\ntop-5:      %.2f%%", t1 * 100, t5 * 100))
        }
        print(String(format: "throughput: %.1f images/s (batch %d, %d threads, %@)", report.imagesPerSecond, report.batch,
                     report.threads, report.isa))
    }
}
