import Foundation
import OctetTestSupport
import XCTest

/// The `octet` executable end to end: output formats and a clear error with a non-zero exit
/// for every kind of bad input.
final class CLITests: XCTestCase {
    var dir: URL!
    var resnet: String!

    override func setUpWithError() throws {
        dir = try TestPaths.temporaryDirectory(self)
        resnet = dir.appendingPathComponent("resnet18.onnx").path
        let zoo = try runProduct("octet", ["zoo", "resnet18", "--out", resnet])
        XCTAssertEqual(zoo.status, 0, zoo.stderr)
    }

    func testInspectAndBenchJSON() throws {
        let inspect = try runProduct("octet", ["inspect", resnet, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertEqual(inspect.json?["macsPerImage"] as? Int, 1_814_073_344)
        XCTAssertEqual(inspect.json?["parameters"] as? Int, 11_684_712)
        let bench = try runProduct("octet", ["bench", resnet, "--batch", "2", "--threads", "1", "--iterations", "1", "--json"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let json = try XCTUnwrap(bench.json)
        XCTAssertEqual(json["batch"] as? Int, 2)
        XCTAssertEqual(json["threads"] as? Int, 1)
        XCTAssertEqual(json["isa"] as? String, ISA.best.rawValue)
        XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0)
        let forced = try runProduct("octet", ["bench", resnet, "--batch", "1", "--iterations", "1", "--json"], environment: ["OCTET_ISA": "scalar"])
        XCTAssertEqual(forced.json?["isa"] as? String, "scalar")
    }

    func testRunOnRealImagesJSON() throws {
        try TestPaths.requireShared()
        let r = try runProduct("octet", ["run", TestPaths.efficientNet, "--data", TestPaths.imageSample, "--labels", TestPaths.imageLabels,
                                         "--preprocess", "efficientnet-lite", "--limit", "16", "--batch", "8", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json, r.stdout)
        XCTAssertEqual(json["images"] as? Int, 16)
        XCTAssertNotNil(json["top1"] as? Double)
        XCTAssertNotNil(json["top5"] as? Double)
        XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0)
    }

    func testRunOnNPYTensor() throws {
        var r = TestRandom(seed: 4)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [3, 3, 224, 224], values: r.floats(3 * 3 * 224 * 224))
        let labels = dir.appendingPathComponent("labels.csv")
        try Data("file,label\n0,1\n1,2\n2,3\n".utf8).write(to: labels)
        let out = try runProduct("octet", ["run", resnet, "--data", npy, "--labels", labels.path, "--batch", "2", "--json"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.json?["images"] as? Int, 3)
        XCTAssertEqual(out.json?["labeled"] as? Int, 3)
        try NPYFile.write(path: npy, shape: [2, 3, 200, 200], values: r.floats(2 * 3 * 200 * 200))
        try expectFailure(["run", resnet, "--data", npy], mentions: "the model expects [3, 224, 224]")
    }

    func testCalibrateAndEvalWriteArtifactsAndJSON() throws {
        var r = TestRandom(seed: 9)
        let npy = dir.appendingPathComponent("cal.npy").path
        try NPYFile.write(path: npy, shape: [4, 3, 224, 224], values: r.floats(4 * 3 * 224 * 224))
        let out = dir.appendingPathComponent("out").path
        let cal = try runProduct("octet", ["calibrate", resnet, "--data", npy, "--method", "percentile:99.9", "--out", out,
                                           "--report-samples", "1", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let paths = try XCTUnwrap(cal.json?["paths"] as? [String: String], cal.stdout)
        for key in ["model", "table", "tensorRTCache", "report"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: paths[key] ?? ""), key)
        }
        let table = try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: paths["table"]!)))
        let cache = try String(contentsOfFile: paths["tensorRTCache"]!, encoding: .utf8)
        XCTAssertEqual(cache.split(separator: "\n").count, table.entries.count + 1)
        XCTAssertTrue(cache.hasPrefix("TRT-"))
        XCTAssertTrue(try String(contentsOfFile: paths["report"]!, encoding: .utf8).contains("| tensor | method |"))
        let eval = try runProduct("octet", ["eval", resnet, paths["model"]!, "--data", npy, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        for key in ["agreement", "sqnr_db", "images", "cosine", "max_abs_error"] { XCTAssertNotNil(eval.json?[key], key) }
        let cosine = try XCTUnwrap(eval.json?["cosine"] as? Double), maxAbs = try XCTUnwrap(eval.json?["max_abs_error"] as? Double)
        let sqnr = try XCTUnwrap(eval.json?["sqnr_db"] as? Double)
        // The angle between two vectors whose difference is e·|a| long has sin ≤ e: cos ≥ √(1 − 10^(−SQNR/10)).
        XCTAssertLessThanOrEqual(cosine, 1 + 1e-12)
        if sqnr > 0 { XCTAssertGreaterThanOrEqual(cosine, (1 - pow(10, -sqnr / 10)).squareRoot() - 1e-9, "cosine \(cosine) with \(sqnr) dB") }
        XCTAssertTrue(maxAbs > 0 && maxAbs.isFinite, "max |Δ| \(maxAbs)")
        // The INT8 plan's profile comes from the same step protocol as FP32's: every step, with the
        // 20 convolutions (3 are the residual shortcuts) and the batched classifier, then by kind.
        let profile = try runProduct("octet", ["bench", paths["model"]!, "--batch", "4", "--threads", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(profile.status, 0, profile.stderr)
        let lines = profile.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.contains("step time per image") }, profile.stdout)
        XCTAssertEqual(lines.filter { $0.contains(" conv ") && $0.contains(" -> ") }.count, 21, profile.stdout)
        XCTAssertTrue(lines.contains { $0.hasSuffix("by kind:") }, profile.stdout)
        // A model that is already quantized is refused.
        try expectFailure(["calibrate", paths["model"]!, "--data", npy, "--out", out], mentions: "already quantized")
        try expectFailure(["calibrate", resnet, "--data", npy, "--method", "magic", "--out", out], mentions: "--method")
    }

    func expectFailure(_ args: [String], mentions text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runProduct("octet", args)
        XCTAssertNotEqual(r.status, 0, "expected failure for \(args)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "stderr should mention '\(text)': \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    func testBadModelsAreClearErrors() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: resnet))
        let truncated = dir.appendingPathComponent("truncated.onnx")
        try data.prefix(data.count / 2).write(to: truncated)
        try expectFailure(["inspect", truncated.path], mentions: "not a valid ONNX model")
        let random = dir.appendingPathComponent("random.onnx")
        var r = TestRandom(seed: 5)
        try Data((0..<5000).map { _ in UInt8(truncatingIfNeeded: r.rng.next()) }).write(to: random)
        try expectFailure(["inspect", random.path], mentions: "ONNX")
        try expectFailure(["inspect", dir.appendingPathComponent("none.onnx").path], mentions: "no such file")

        var model = try Onnx_ModelProto(serializedBytes: data)
        model.graph.node[3].opType = "NonMaxSuppression"
        let unknown = dir.appendingPathComponent("unknown.onnx")
        try model.serializedData().write(to: unknown)
        try expectFailure(["bench", unknown.path, "--iterations", "1"], mentions: "unsupported operator(s): NonMaxSuppression")
    }

    func testBadDataAreClearErrors() throws {
        try expectFailure(["run", resnet, "--data", dir.appendingPathComponent("missing").path], mentions: "not found")
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try expectFailure(["run", resnet, "--data", empty.path], mentions: "no images")
        try TestPaths.requireShared()
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: TestPaths.imageSample + "/n01440764_tench.JPEG"))
        try jpeg.write(to: images.appendingPathComponent("good.jpg"))
        try jpeg.prefix(jpeg.count / 3).write(to: images.appendingPathComponent("corrupt.jpg"))
        try expectFailure(["run", resnet, "--data", images.path], mentions: "cannot decode image")
        // An image size the model cannot take (wrong input shape).
        try FileManager.default.removeItem(at: images.appendingPathComponent("corrupt.jpg"))
        let recipe = dir.appendingPathComponent("small.json")
        try Data(#"{"name":"small","resizeShorter":128,"crop":112,"pixelDivisor":255,"mean":[0,0,0],"std":[1,1,1],"channelOrder":"rgb"}"#.utf8).write(to: recipe)
        try expectFailure(["run", resnet, "--data", images.path, "--preprocess", recipe.path], mentions: "the model expects [3, 224, 224]")
    }
}
