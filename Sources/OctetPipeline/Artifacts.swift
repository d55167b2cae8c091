import Foundation
import OctetCalibration
import OctetCore
import OctetData
import OctetONNX

/// Writes the outputs of a calibration into a folder: the QDQ model, the calibration table as
/// JSON and as a TensorRT calibration cache, and the report as Markdown and as one
/// self-contained HTML page.
public enum CalibrationArtifacts {
    public struct Paths: Codable, Sendable {
        public var model: String
        public var table: String
        public var tensorRTCache: String
        public var report: String
        /// `report.html`: the same report with its plots inlined (`CalibrationReportHTML`).
        public var html: String
    }

    /// `cumulative`: (tensor, measured SQNR) in graph order, plotted in the HTML page.
    public static func write(_ q: QuantizedModel, to directory: String, modelName: String, report: String,
                             cumulative: [(String, Double)] = []) throws -> Paths {
        let dir = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let paths = Paths(model: dir.appendingPathComponent(modelName + ".int8.onnx").path,
                          table: dir.appendingPathComponent("calibration.json").path,
                          tensorRTCache: dir.appendingPathComponent("calibration.cache").path,
                          report: dir.appendingPathComponent("report.md").path,
                          html: dir.appendingPathComponent("report.html").path)
        try ONNXExporter.write(q.qdq, to: URL(fileURLWithPath: paths.model))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(q.table).write(to: URL(fileURLWithPath: paths.table))
        try Data(tensorRTCache(q.table).utf8).write(to: URL(fileURLWithPath: paths.tensorRTCache))
        try Data(report.utf8).write(to: URL(fileURLWithPath: paths.report))
        let html = CalibrationReportHTML.render(markdown: report, cumulative: cumulative, plotDirectory: directory)
        try Data(html.utf8).write(to: URL(fileURLWithPath: paths.html))
        return paths
    }

    /// Measures the report on the first `reportSamples` samples, renders it and writes every
    /// artifact: what `octet calibrate` produces. The measurements are taken on the INT8 model as
    /// written and read back, the one users get (and the one cluster workers measure).
    /// With `recipe` (image data), the preprocessing is written beside the INT8 model as
    /// `MODEL.int8.preprocess.json`, so `eval`, `run` and `submit infer` on it preprocess the same way.
    public static func writeAll(_ q: QuantizedModel, config: QuantConfig, data: any Dataset,
                                modelName: String, modelSHA256: String, recipe: PreprocessRecipe? = nil, to directory: String) throws -> Paths {
        let model = try writeModel(q, modelName: modelName, to: directory)
        let measured = try ReportMeasurements.measure(fp32: q.fp32, qdq: try ModelLoader.loadQDQ(path: model), data: data,
                                                      samples: config.reportSamples, options: config.plan)
        return try writeAll(q, config: config, measurements: measured, modelName: modelName, modelSHA256: modelSHA256,
                            recipe: recipe, to: directory)
    }

    /// Writes the INT8 model alone into `directory` (as `writeAll` names it); returns its path.
    public static func writeModel(_ q: QuantizedModel, modelName: String, to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = URL(fileURLWithPath: directory).appendingPathComponent(modelName + ".int8.onnx")
        try ONNXExporter.write(q.qdq, to: path)
        return path.path
    }

    /// Renders the report from `measurements` (taken in this process or summed from cluster
    /// workers' `ReportSampleSums`) and writes every artifact: what `octet calibrate` and a
    /// cluster calibration job both produce.
    ///
    /// `modelSHA256` (of the FP32 model file) and `recipe` go into the table's provenance, with the
    /// exclusions, weight options and bias corrections, so `quantize(_:table:)` can rebuild the model.
    public static func writeAll(_ q: QuantizedModel, config: QuantConfig, measurements: ReportMeasurements,
                                modelName: String, modelSHA256: String, recipe: PreprocessRecipe? = nil, to directory: String) throws -> Paths {
        var q = q
        q.table.provenance = CalibrationProvenance(
            modelSHA256: modelSHA256, preprocessingSHA256: try recipe.map(preprocessingSHA256),
            excludedNodes: Array(q.quantize.excludedNodes), excludedOpTypes: Array(q.quantize.excludedOpTypes),
            perChannelWeights: q.quantize.perChannelWeights, weightBits: q.quantize.weightBits, biasCorrections: q.biasCorrections,
            equalizedClips: q.equalizedClips, absorbedBiases: q.absorbedBiases, weightScales: q.weightScales,
            roundedUp: q.roundedUp?.mapValues(RoundingFlags.encode))
        let measured = measurements.perTensorSQNR(of: q.table)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let report = try CalibrationReport.markdown(q, config: config, measured: measured, sqnrSamples: measurements.samples,
                                                    diagnosis: measurements.diagnosis, modelName: modelName, plotDirectory: directory)
        let order = Dictionary((q.fp32.inputs.map(\.name) + q.fp32.nodes.flatMap(\.outputs)).enumerated().map { ($1, $0) },
                               uniquingKeysWith: { first, _ in first })
        let cumulative = q.table.entries.compactMap { e in measured[e.tensor].map { (e.tensor, $0) } }
            .sorted { (order[$0.0] ?? .max, $0.0) < (order[$1.0] ?? .max, $1.0) }
        let paths = try write(q, to: directory, modelName: modelName, report: report, cumulative: cumulative)
        if let recipe { try writePreprocessing(recipe, besides: paths.model) }
        return paths
    }

    /// `MODEL.int8.preprocess.json` beside the INT8 model, so `eval`, `run` and `submit infer` on
    /// it preprocess as the calibration did.
    public static func writePreprocessing(_ recipe: PreprocessRecipe, besides model: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let sidecar = URL(fileURLWithPath: model).deletingPathExtension().path + ".preprocess.json"
        try encoder.encode(recipe).write(to: URL(fileURLWithPath: sidecar))
    }

    /// SHA-256 of a recipe's canonical JSON (sorted keys): what the table's provenance records.
    public static func preprocessingSHA256(_ recipe: PreprocessRecipe) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ContentHash.sha256(try encoder.encode(recipe))
    }

    /// TensorRT's calibration cache text: a header line, then `tensor: hex` with the big-endian
    /// IEEE-754 bits of the symmetric int8 scale threshold/127 (TensorRT's per-tensor convention).
    public static func tensorRTCache(_ table: CalibrationTable) -> String {
        var lines = ["TRT-8601-EntropyCalibration2"]
        for e in table.entries {
            let scale = Float(e.threshold / 127)
            lines.append("\(e.tensor): " + String(format: "%08x", scale.bitPattern))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
