import Foundation
import OctetTestSupport
import XCTest

/// `octet calibrate` of SqueezeNet 1.1: its classifier convolution is the least weight-sensitive
/// by the margin (5 dB below the median) but a quarter of the model's multiply-adds. By default
/// the sensitivity budget leaves it quantized, says so, and the INT8 file runs with no FP32
/// convolution; `--sensitivity-budget off` keeps it in FP32 as the margin alone would.
final class SensitivityBudgetCLITests: XCTestCase {
    func testTheBudgetQuantizesALargeSensitiveLayerAndOffKeepsIt() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let model = TestPaths.shared.appendingPathComponent("models/zoo/tv_squeezenet1_1.onnx").path
        let classifier = "/classifier/classifier.1/Conv"
        func calibrate(_ name: String, _ flags: [String]) throws -> (json: [String: Any], int8: String, report: String) {
            let cal = try runProduct("octet", ["calibrate", model, "--data", TestPaths.imageSample, "--samples", "8", "--report-samples", "0",
                                               "--out", dir.appendingPathComponent(name).path, "--json"] + flags)
            XCTAssertEqual(cal.status, 0, cal.stderr)
            let json = try XCTUnwrap(cal.json, cal.stdout)
            let paths = try XCTUnwrap(json["paths"] as? [String: String], cal.stdout)
            return (json, try XCTUnwrap(paths["model"]), try String(contentsOfFile: try XCTUnwrap(paths["report"]), encoding: .utf8))
        }
        let budget = try calibrate("budget", [])
        XCTAssertEqual(budget.json["autoExcluded"] as? [String], [])
        XCTAssertEqual(budget.json["sensitiveOverBudget"] as? [String], [classifier])
        XCTAssertTrue(budget.report.contains("within 5% of the convolutions' multiply-adds: none; as sensitive but quantized, over that budget: `\(classifier)`"),
                      budget.report)
        let profile = try runProduct("octet", ["bench", budget.int8, "--batch", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(profile.status, 0, profile.stderr)
        XCTAssertFalse(profile.stdout.contains("fp32 conv"), profile.stdout)

        let unlimited = try calibrate("unlimited", ["--sensitivity-budget", "off"])
        XCTAssertEqual(unlimited.json["autoExcluded"] as? [String], [classifier])
        XCTAssertEqual(unlimited.json["sensitiveOverBudget"] as? [String], [])
        let fp32 = try runProduct("octet", ["bench", unlimited.int8, "--batch", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(fp32.status, 0, fp32.stderr)
        XCTAssertEqual(fp32.stdout.split(separator: "\n").filter { $0.contains("GFLOPS  fp32 conv") }.count, 1, fp32.stdout)

        let refused = try runProduct("octet", ["calibrate", model, "--data", TestPaths.imageSample, "--samples", "2", "--sensitivity-budget", "150",
                                               "--out", dir.appendingPathComponent("refused").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--sensitivity-budget must be a percentage in [0, 100]"), refused.stderr)
    }
}
