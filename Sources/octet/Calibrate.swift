import ArgumentParser
import Foundation
import OctetCore
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
        try calibration.config().on(try runtime.planOptions())
    }

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let data = try dataOptions.dataset(model: model)
        let config = try config()
        let bar = ProgressBar(label: "calibrate", enabled: !json && System.stderrIsTerminal)
        let q = try quantizeModel(graph, calibrationData: data, config: config) { bar.update($0, $1) }
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let recipe = dataOptions.data.lowercased().hasSuffix(".npy") ? nil : try dataOptions.recipe(model: model)
        let paths = try CalibrationArtifacts.writeAll(q, config: config, data: data,
                                                      modelName: name, modelSHA256: ContentHash.sha256(try Data(contentsOf: URL(fileURLWithPath: model))), recipe: recipe,
                                                      to: out)
        // The artifacts are written either way; an unmet bound then fails the command.
        let unmet = q.accuracy.flatMap { a in a.met ? nil : a }
        defer { if let a = unmet { Self.exit(withError: AccuracyBoundNotMet(report: a)) } }
        if json {
            struct Summary: Encodable {
                var samples: Int; var seconds: Double; var tensors: Int; var paths: CalibrationArtifacts.Paths
                var accuracy: AccuracyControlReport?
                /// Convolutions the weight-sensitivity rule kept in FP32, and those it left quantized for its budget.
                var autoExcluded: [String]; var sensitiveOverBudget: [String]
            }
            return try printJSON(Summary(samples: q.samples, seconds: q.seconds, tensors: q.table.entries.count, paths: paths,
                                         accuracy: q.accuracy, autoExcluded: q.autoExcluded, sensitiveOverBudget: q.sensitiveOverBudget))
        }
        if !q.autoExcluded.isEmpty { print("kept in FP32 (weight-sensitive): \(q.autoExcluded.joined(separator: ", "))") }
        if !q.sensitiveOverBudget.isEmpty {
            print("quantized though weight-sensitive (over the --sensitivity-budget): \(q.sensitiveOverBudget.joined(separator: ", "))")
        }
        if let a = q.accuracy {
            print(String(format: "--max-drop %.2f (%@, %d validation samples, confidence %g): FP32 %.2f, all INT8 %.2f, written %.2f",
                         a.maxDrop, a.metric.rawValue, a.validationSamples, a.confidence, a.fp32, a.allInt8, a.final))
            if !a.returned.isEmpty { print("returned to FP32: \(a.returned.map(\.layer).joined(separator: ", "))") }
        }
        print("calibrated \(q.table.entries.count) tensors on \(q.samples) samples in \(String(format: "%.1f", q.seconds)) s (\(config.method))")
        print("INT8 model:        \(paths.model)")
        print("calibration table: \(paths.table)")
        print("TensorRT cache:    \(paths.tensorRTCache)")
        print("report:            \(paths.report) (and \(URL(fileURLWithPath: paths.html).lastPathComponent): one page, open offline)")
    }
}

/// `--max-drop` could not be met: the artifacts (with the best set of layers found) are written,
/// and the command exits with status 1.
struct AccuracyBoundNotMet: Error, CustomStringConvertible {
    let report: AccuracyControlReport
    var description: String {
        String(format: "--max-drop %.2f is not met: %@ %.2f against FP32 %.2f on %d validation samples even with %d layer(s) in FP32 (see the report)",
               report.maxDrop, report.metric.rawValue, report.final, report.fp32, report.validationSamples, report.returned.count)
    }
}
