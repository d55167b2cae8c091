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

    @OptionGroup var calibration: CalibrationFlags

    @Option(help: "Output folder.")
    var out: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func config() throws -> QuantConfig {
        try calibration.options().quantConfig(plan: try runtime.planOptions())
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let data = try dataOptions.dataset(model: model)
        let config = try config()
        let bar = ProgressBar(label: "calibrate", enabled: !json && System.stderrIsTerminal)
        let q = try quantizeModel(graph, calibrationData: data, config: config) { bar.update($0, $1) }
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let recipe = dataOptions.data.lowercased().hasSuffix(".npy") ? nil : try PreprocessRecipe.resolve(dataOptions.preprocess, modelPath: model)
        let paths = try CalibrationArtifacts.writeAll(q, config: config, data: data, reportSamples: calibration.reportSamples,
                                                      modelName: name, recipe: recipe, to: out)
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
