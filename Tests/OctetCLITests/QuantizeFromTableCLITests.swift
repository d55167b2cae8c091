import Foundation
import OctetTestSupport
import XCTest

/// `octet quantize` rebuilds a calibration's INT8 model from its calibration.json alone, byte for
/// byte (thresholds, exclusions, weight options, bias corrections and cross-layer equalization all
/// come from the table), and
/// refuses, before any work and with the reason, a table made for another model file, another
/// preprocessing, written without provenance, or edited to parameters that quantize nothing.
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
        // Edited activation parameters: a scale that is not positive, a zero point outside its
        // type, a type that holds no activation codes.
        func edited(_ name: String, _ key: String, _ value: Any) throws -> (String, String) {
            var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: table))) as? [String: Any])
            var entries = try XCTUnwrap(json["entries"] as? [[String: Any]])
            var params = try XCTUnwrap(entries[1]["params"] as? [String: Any])
            params[key] = value
            entries[1]["params"] = params
            json["entries"] = entries
            let path = dir.appendingPathComponent(name).path
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
            return (path, try XCTUnwrap(entries[1]["tensor"] as? String))
        }
        let (negative, tensor) = try edited("negative.json", "scale", -1)
        let (zero, _) = try edited("zero.json", "scale", 0)
        let (wide, _) = try edited("wide.json", "zeroPoint", 300)
        let (int32, _) = try edited("int32.json", "dtype", DType.int32.rawValue)
        let refused: [([String], String)] = [
            ([model, "--table", negative, "--preprocess", "efficientnet-lite"], "parameters for '\(tensor)' are invalid: scale -1.0"),
            ([model, "--table", zero, "--preprocess", "efficientnet-lite"], "scale 0.0 (scales must be positive and finite)"),
            ([model, "--table", wide, "--preprocess", "efficientnet-lite"], "zero point 300 outside uint8's 0...255"),
            ([model, "--table", int32, "--preprocess", "efficientnet-lite"], "int32 activation codes"),
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
