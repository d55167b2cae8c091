import Foundation
import XCTest

/// Writes `q`'s artifacts for `graph` (saved as `dir/m.onnx`, tensors without a preprocessing
/// recipe), rebuilds the INT8 model from the written calibration.json alone (`quantize(_:table:)`)
/// and asserts it is the written model byte for byte. Returns the table and the artifact paths,
/// for the caller's checks of the provenance and the report.
@discardableResult
public func assertTheTableRebuildsTheModel(_ q: QuantizedModel, graph: Graph, config: QuantConfig, data: any Dataset, in dir: URL,
                                           file: StaticString = #filePath, line: UInt = #line) throws -> (table: CalibrationTable, paths: CalibrationArtifacts.Paths) {
    let model = dir.appendingPathComponent("m.onnx")
    try ONNXExporter.write(graph, to: model)
    let sha = ContentHash.sha256(try Data(contentsOf: model))
    var reported = config
    reported.reportSamples = 2
    let paths = try CalibrationArtifacts.writeAll(q, config: reported, data: data, modelName: "m", modelSHA256: sha,
                                                  to: dir.appendingPathComponent("cal").path)
    let table = try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: paths.table)))
    let rebuilt = try quantize(try ModelLoader.load(path: model.path), modelSHA256: sha, recipe: nil, table: table)
    XCTAssertEqual(try ONNXExporter.serialize(rebuilt.qdq), try ONNXExporter.serialize(try ModelLoader.loadQDQ(path: paths.model)),
                   "the rebuild from the table differs", file: file, line: line)
    return (table, paths)
}
