import Foundation
import OctetTestSupport
import XCTest

/// A user's path for a model beyond convolutions, through the CLI: `octet calibrate` of MTCNN's
/// P-Net (symbolic height and width, PRelu, two outputs), then `octet bench --profile` of its INT8
/// file at a size the user gives: every convolution on an integer kernel, each PRelu as per-channel
/// tables fused into the convolution before it, any FP32 island named with its reason; and `octet eval` comparing both outputs.
final class ZooInt8CLITests: XCTestCase {
    func testCalibrateBenchProfileAndEvalOfADetectorWithSymbolicSize() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let model = TestPaths.shared.appendingPathComponent("models/zoo/mtcnn_pnet.onnx").path
        let cal = try runProduct("octet", ["calibrate", model, "--data", TestPaths.imageSample, "--samples", "4", "--report-samples", "1",
                                           "--out", dir.appendingPathComponent("cal").path, "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let int8 = try XCTUnwrap((cal.json?["paths"] as? [String: String])?["model"], cal.stdout)
        let bench = try runProduct("octet", ["bench", int8, "--input-shape", "input=1x3x120x160", "--batch", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let lines = bench.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.contains("conv 3x3/1 ") && $0.contains("[") }.count, 3, bench.stdout)
        XCTAssertFalse(bench.stdout.contains("fp32 conv"), bench.stdout)
        // Each PRelu (one table per channel, computed) is fused into the convolution before it.
        XCTAssertEqual(lines.filter { $0.contains("conv 3x3/1 ") && $0.contains("+ table (computed) [") }.count, 3, bench.stdout)
        XCTAssertFalse(bench.stdout.contains("channel tables: PRelu"), bench.stdout)
        for island in lines.filter({ $0.contains("fp32 island: ") }) {
            XCTAssertTrue(island.contains("(no integer kernel in Octet)") || island.contains("(not quantized in the model)"), island)
        }
        let eval = try runProduct("octet", ["eval", model, int8, "--data", TestPaths.imageSample, "--limit", "4", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let outputs = try XCTUnwrap(eval.json?["outputs"] as? [[String: Any]], eval.stdout)
        XCTAssertEqual(Set(outputs.compactMap { $0["name"] as? String }), ["bbox_reg", "face_prob"])
        for o in outputs { XCTAssertGreaterThan(try XCTUnwrap(o["sqnr_db"] as? Double), 10, "\(o)") }
    }
}
