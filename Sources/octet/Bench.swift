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
    @OptionGroup var inputShape: InputShapeOptions

    @Flag(help: "Print the time of each step (worker time per image, GFLOPS), slowest first.")
    var profile = false

    @Flag(help: "Print one JSON object (keys images_per_second, batch, threads, isa, ...).")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let report: BenchmarkReport
        if try ModelLoader.isQuantized(path: model) {
            let options = try runtime.planOptions()
            let graph = try ModelLoader.loadQDQ(path: model)
            report = try Benchmark.runInt8(graph: graph, isa: options.isa, threads: options.threads, batch: batch, iterations: iterations,
                                           inputShapes: try inputShape.shapes(), profile: profile ? { Bench.printProfile($0, images: $1) } : nil)
        } else {
            let graph = try ModelLoader.load(path: model)
            report = try Benchmark.run(graph: graph, options: try runtime.planOptions(), batch: batch, iterations: iterations,
                                       inputShapes: try inputShape.shapes(), profile: profile ? { Bench.printProfile($0, images: $1) } : nil)
        }
        if json { return try printJSON(report) }
        print("\(report.model): \(String(format: "%.1f", report.imagesPerSecond)) images/s, "
              + "\(String(format: "%.1f", report.gflops)) G(FL)OPS (batch \(report.batch), \(report.threads) threads, \(report.isa))")
    }

    /// The kind of step a label names: an INT8 convolution by window ("conv 3x3/1 56x56x64 -> ..."
    /// → "conv 3x3/1"), another INT8 step whole ("requantize", "add"), an FP32 step by op type
    /// ("Conv stem +Act" → "Conv").
    static func kind(of label: String) -> String {
        let words = label.split(separator: " ")
        if words.count > 2, words[0].hasSuffix("conv") { return words.prefix(2).joined(separator: " ") }
        if let first = words.first, first.first?.isUppercase == true { return String(first) }
        return label
    }

    static func printProfile(_ p: StepProfile, images: Int) {
        let total = Double(p.nanoseconds.reduce(0, +))
        print("step time per image (summed over workers), slowest first:")
        for i in p.nanoseconds.indices.sorted(by: { p.nanoseconds[$0] > p.nanoseconds[$1] }) {
            let us = Double(p.nanoseconds[i]) / Double(images) / 1e3
            let gflops = us > 0 ? Double(p.macs[i]) * 2 / (us * 1e3) : 0
            print(String(format: "%9.1f us %5.1f%% %7.1f GFLOPS  %@", us, Double(p.nanoseconds[i]) / max(total, 1) * 100, gflops, p.labels[i]))
        }
        var byKind: [String: UInt64] = [:]
        for (label, ns) in zip(p.labels, p.nanoseconds) { byKind[kind(of: label), default: 0] += ns }
        print("by kind:")
        for (kind, ns) in byKind.sorted(by: { $0.value > $1.value }) {
            print(String(format: "%9.1f us %5.1f%%  %@", Double(ns) / Double(images) / 1e3, Double(ns) / max(total, 1) * 100, kind))
        }
    }
}
