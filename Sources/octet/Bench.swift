import ArgumentParser
import OctetPipeline

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the throughput of one configuration on synthetic input.")

    @Argument(help: "ONNX model file.")
    var model: String

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Option(help: "Timed iterations after one warm-up.")
    var iterations: Int = 5

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print one JSON object (keys images_per_second, batch, threads, isa, ...).")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let report = try Benchmark.run(graph: graph, options: try runtime.planOptions(), batch: batch, iterations: iterations)
        if json { return try printJSON(report) }
        print("\(report.model): \(String(format: "%.1f", report.imagesPerSecond)) images/s, "
              + "\(String(format: "%.1f", report.gflops)) GFLOPS (batch \(report.batch), \(report.threads) threads, \(report.isa))")
    }
}
