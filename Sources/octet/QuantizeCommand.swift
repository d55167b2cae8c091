import ArgumentParser
import Foundation
import OctetCore
import OctetPipeline

/// `octet quantize`: the INT8 model of a calibration, rebuilt from its table alone.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Rebuild a calibration's INT8 model from its calibration.json (no images needed); refuses a table made for another model or preprocessing.")

    @Argument(help: "The FP32 ONNX model the table was calibrated on.")
    var model: String

    @Option(help: "The calibration.json that `octet calibrate` (or a cluster job) wrote.")
    var table: String

    @Option(help: "The preprocessing the table was calibrated with: imagenet, efficientnet-lite, a JSON recipe file, or 'none' for tensor data (default: MODEL.preprocess.json beside the model, else imagenet).")
    var preprocess: String?

    @Option(help: "Output folder.")
    var out: String

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let calibration: CalibrationTable
        do {
            calibration = try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: table)))
        } catch {
            throw ValidationError("cannot read the calibration table \(table): \(error)")
        }
        let recipe = preprocess == "none" ? nil : try PreprocessRecipe.resolve(preprocess, modelPath: model)
        let hash = ContentHash.sha256(try Data(contentsOf: URL(fileURLWithPath: model)))
        let q = try quantize(graph, modelSHA256: hash, recipe: recipe, table: calibration)
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let report = "# INT8 model of \(name), rebuilt from \(table)\n\nThe thresholds, exclusions and bias corrections are the table's (`octet quantize`); see the calibration's own report for its measurements.\n"
        let paths = try CalibrationArtifacts.write(q, to: out, modelName: name, report: report)
        if let recipe { try CalibrationArtifacts.writePreprocessing(recipe, besides: paths.model) }
        print("INT8 model:        \(paths.model)")
    }
}
