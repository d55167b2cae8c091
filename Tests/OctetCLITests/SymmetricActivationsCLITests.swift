import Foundation
import OctetTestSupport
import XCTest

/// `octet calibrate --symmetric-activations` writes the QDQ model TensorRT accepts: every
/// activation s8 with zero point 0 and scale threshold/127 (in the table, the QDQ file and the
/// TensorRT cache alike), the report says so, and Octet's INT8 executor runs the file on its
/// integer kernels close to FP32.
final class SymmetricActivationsCLITests: XCTestCase {
    func testSymmetricActivationsAreSignedWithZeroPointZeroEverywhere() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, npy) = try SmallModels.convPoolModel(in: dir, seed: 14)
        let out = dir.appendingPathComponent("cal").path
        let cal = try runProduct("octet", ["calibrate", model, "--data", npy, "--symmetric-activations", "--out", out, "--report-samples", "1", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let paths = try XCTUnwrap(cal.json?["paths"] as? [String: String], cal.stdout)
        let table = try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(paths["table"]))))
        XCTAssertFalse(table.entries.isEmpty)
        for e in table.entries {
            XCTAssertEqual(e.params.dtype, .int8, e.tensor)
            XCTAssertEqual(e.params.zeroPoint, 0, e.tensor)
            XCTAssertEqual(Double(e.params.scale), e.threshold / 127, accuracy: e.threshold * 1e-6, e.tensor)
        }
        // Proven non-negative tensors (the Relu) are s8 too: TensorRT takes no other form.
        XCTAssertTrue(table.entries.contains { $0.nonNegative }, "the test model has a non-negative tensor")

        let int8Path = try XCTUnwrap(paths["model"])
        let qdq = try ModelLoader.load(path: int8Path)
        let activationZeroPoints = qdq.nodes.compactMap { n -> Tensor? in
            guard case .quantizeLinear = n.op, n.inputs.count > 2 else { return nil }
            return qdq.initializers[n.inputs[2]]
        }
        XCTAssertEqual(activationZeroPoints.count, table.entries.count)
        for z in activationZeroPoints { XCTAssertEqual(z.data, .int8([0])) }
        let report = try String(contentsOfFile: try XCTUnwrap(paths["report"]), encoding: .utf8)
        XCTAssertTrue(report.contains("s8 symmetric"), report)

        let profile = try runProduct("octet", ["bench", int8Path, "--batch", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(profile.status, 0, profile.stderr)
        XCTAssertFalse(profile.stdout.contains("island"), profile.stdout)
        XCTAssertFalse(profile.stdout.contains("(swift)"), profile.stdout)
        let eval = try runProduct("octet", ["eval", model, int8Path, "--data", npy, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let outputs = try XCTUnwrap(eval.json?["outputs"] as? [[String: Any]], eval.stdout)
        let sqnr = try XCTUnwrap(outputs.first?["sqnr_db"] as? Double, eval.stdout)
        XCTAssertGreaterThan(sqnr, 20, "INT8 with symmetric activations vs FP32")
    }
}
