import Foundation
import OctetTestSupport
import XCTest

/// `octet quantize` rebuilds a calibration's INT8 model from its calibration.json alone, byte for
/// byte (thresholds, exclusions, weight options, bias corrections and cross-layer equalization all
/// come from the table), and
/// refuses, before any work and with the reason, a table made for another model file, another
/// preprocessing, or written without provenance.
final class QuantizeFromTableCLITests: XCTestCase {
    func testTheTableRebuildsTheModelAndIsRefusedForAnythingElse() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let model = TestPaths.efficientNet, images = TestPaths.imageSample
        let cal = dir.appendingPathComponent("cal").path
        let calibrate = try runProduct("octet", ["calibrate", model, "--data", images, "--preprocess", "efficientnet-lite", "--samples", "8",
                                                 "--exclude", "Gemm", "--equalize", "--report-samples", "1", "--out", cal])
        XCTAssertEqual(calibrate.status, 0, calibrate.stderr)
        let table = (cal as NSString).appendingPathComponent("calibration.json")
        let provenance = try XCTUnwrap(try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: table))).provenance)
        XCTAssertEqual(provenance.modelSHA256, ContentHash.sha256(try Data(contentsOf: URL(fileURLWithPath: model))))
        XCTAssertNotNil(provenance.preprocessingSHA256)
        XCTAssertTrue(provenance.excludedOpTypes.contains("Gemm"))
        XCTAssertFalse(provenance.biasCorrections.isEmpty)
        XCTAssertNotNil(provenance.equalizedClips, "equalized")

        let out = dir.appendingPathComponent("rebuilt").path
        let rebuilt = try runProduct("octet", ["quantize", model, "--table", table, "--preprocess", "efficientnet-lite", "--out", out])
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        for file in ["efficientnet_lite0_fp32.int8.onnx", "calibration.json", "calibration.cache", "efficientnet_lite0_fp32.int8.preprocess.json"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: (cal as NSString).appendingPathComponent(file))),
                           try Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent(file))), file)
        }

        // Another model file (the same graph re-exported is other bytes), another preprocessing,
        // a table without provenance: refused, exit 1, nothing written.
        let other = dir.appendingPathComponent("other.onnx").path
        try ONNXExporter.write(try ModelLoader.load(path: model), to: URL(fileURLWithPath: other))
        var stripped = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: table))) as? [String: Any])
        stripped["provenance"] = nil
        let old = dir.appendingPathComponent("old.json").path
        try JSONSerialization.data(withJSONObject: stripped).write(to: URL(fileURLWithPath: old))
        let refused: [([String], String)] = [
            ([other, "--table", table, "--preprocess", "efficientnet-lite"], "made for the model with SHA-256 \(provenance.modelSHA256.prefix(12))"),
            ([model, "--table", table, "--preprocess", "imagenet"], "made with preprocessing SHA-256"),
            ([model, "--table", table, "--preprocess", "none"], "the one given is none"),
            ([model, "--table", old, "--preprocess", "efficientnet-lite"], "recalibrate"),
        ]
        for (arguments, reason) in refused {
            let bad = dir.appendingPathComponent("bad").path
            let r = try runProduct("octet", ["quantize"] + arguments + ["--out", bad])
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains(reason), "\(arguments): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: bad), "\(arguments): wrote output")
        }
    }
}
