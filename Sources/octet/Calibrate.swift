import ArgumentParser
import Foundation
import OctetPipeline

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calibrate an FP32 model on images and write an INT8 QDQ model, its calibration table and a report.")

    @Argument(help: "FP32 ONNX model.")
    var model: String

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Threshold method: kl, max, mse, percentile (99.99) or percentile:P.")
    var method: String = "kl"

    @Option(help: "Calibrate on at most N samples (the first ones).")
    var samples: Int?

    @Option(parsing: .upToNextOption, help: "Node names or op types (e.g. Gemm) to keep in FP32.")
    var exclude: [String] = []

    @Flag(help: "One weight scale per tensor instead of per output channel.")
    var perTensor = false

    @Option(help: "Weight bits: 8, or 7 for the vpmaddubsw paths (default: 7 when --isa is avx512 or avx2, else 8).")
    var weightBits: Int?

    @Option(help: "Keep in FP32 the convolutions whose weight-quantization SQNR is this many dB below the median layer's ('off' disables).")
    var sensitivityMargin: String = "5"

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Samples for the per-layer SQNR of the report.")
    var reportSamples: Int = 8

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard CalibrationMethod.parse(method) != nil else { throw ValidationError("--method must be kl, max, mse, percentile or percentile:P") }
        if let weightBits, weightBits != 7 && weightBits != 8 { throw ValidationError("--weight-bits must be 7 or 8") }
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if sensitivityMargin != "off" && Double(sensitivityMargin) == nil { throw ValidationError("--sensitivity-margin takes dB or 'off'") }
    }

    func config() throws -> QuantConfig {
        var c = QuantConfig()
        c.method = CalibrationMethod.parse(method)!
        c.samples = samples
        c.sensitivityMarginDB = Double(sensitivityMargin)
        c.plan = try runtime.planOptions()
        let opTypes = Set(Op.supportedONNXTypes)
        c.quantize = QuantizeOptions(perChannelWeights: !perTensor, weightBits: weightBits ?? QuantConfig.weightBits(for: c.plan.isa),
                                     excludedNodes: Set(exclude.filter { !opTypes.contains($0) }),
                                     excludedOpTypes: Set(exclude.filter { opTypes.contains($0) }))
        return c
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let data = try dataOptions.dataset(model: model)
        let config = try config()
        let bar = ProgressBar(label: "calibrate", enabled: !json && System.stderrIsTerminal)
        let q = try quantizeModel(graph, calibrationData: data, config: config) { bar.update($0, $1) }
        let measured = try perLayerSQNR(q, data: data, samples: reportSamples, options: config.plan)
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let report = try CalibrationReport.markdown(q, config: config, measured: measured, sqnrSamples: reportSamples,
                                                    modelName: name, plotDirectory: out)
        let paths = try CalibrationArtifacts.write(q, to: out, modelName: name, report: report)
        if json {
            struct Summary: Encodable { var samples: Int; var seconds: Double; var tensors: Int; var paths: CalibrationArtifacts.Paths }
            return try printJSON(Summary(samples: q.samples, seconds: q.seconds, tensors: q.table.entries.count, paths: paths))
        }
        if !q.autoExcluded.isEmpty { print("kept in FP32 (weight-sensitive): \(q.autoExcluded.joined(separator: ", "))") }
        print("calibrated \(q.table.entries.count) tensors on \(q.samples) samples in \(String(format: "%.1f", q.seconds)) s (\(config.method))")
        print("INT8 model:        \(paths.model)")
        print("calibration table: \(paths.table)")
        print("TensorRT cache:    \(paths.tensorRTCache)")
        print("report:            \(paths.report)")
    }
}
