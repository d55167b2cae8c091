import Foundation
import OctetTestSupport
import XCTest

/// `octet` on general graphs: a symbolic height/width fixed by the data or by `--input-shape`,
/// several outputs saved to `.npz`, and a clear error with exit status 1 for a symbolic
/// dimension nothing fixes, an unimplemented Resize mode and a Reshape that does not fit.
final class GeneralGraphCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try TestPaths.temporaryDirectory(self) }

    /// x [N,3,?,?] → Conv 3→4 → (Resize ×2 nearest → "up", Sigmoid → "prob").
    func detectorLike(resizeMode: String = "nearest") throws -> String {
        var b = GraphBuilder(name: "detector")
        let x = b.input("x", dims: [nil, 3, nil, nil])
        var r = TestRandom(seed: 3)
        let w = b.constant("w", r.tensor([4, 3, 3, 3]))
        let c = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [x, w])
        let scales = b.constant("scales", try Tensor(shape: [4], floats: [1, 1, 2, 2]))
        let up = b.add(.resize(ResizeAttributes(mode: .nearest, coordinateTransform: .asymmetric, nearestMode: .floor)), [c, "", scales],
                       name: "upsample")
        let prob = b.add(.unary(.sigmoid), [c])
        b.output(up, dims: [nil, 4, nil, nil])
        b.output(prob, dims: [nil, 4, nil, nil])
        var model = try Onnx_ModelProto(serializedBytes: try ONNXExporter.serialize(b.graph))
        if resizeMode != "nearest", let i = model.graph.node.firstIndex(where: { $0.opType == "Resize" }),
           let a = model.graph.node[i].attribute.firstIndex(where: { $0.name == "mode" }) {
            model.graph.node[i].attribute[a].s = Data(resizeMode.utf8)
        }
        let path = dir.appendingPathComponent("detector-\(resizeMode).onnx").path
        try model.serializedData().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `eval` of a model that is not a classifier (two feature-map outputs): SQNR, cosine and
    /// max |Δ| of each output, no top-1, every INT8 output saved to `.npz`; `--save-logits` refused.
    func testEvalComparesEveryOutputOfANonClassifier() throws {
        var b = GraphBuilder(name: "features")
        let x = b.input("x", dims: [nil, 3, 10, 9])
        var r = TestRandom(seed: 5)
        let w1 = b.constant("w1", r.tensor([6, 3, 3, 3])), b1 = b.constant("b1", r.tensor([6]))
        let feat = b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [x, w1, b1])], name: "feat")
        let w2 = b.constant("w2", r.tensor([4, 6, 1, 1]))
        let head = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [feat, w2], name: "head")
        b.output(feat, dims: [nil, 6, 10, 9])
        b.output(head, dims: [nil, 4, 10, 9])
        let model = dir.appendingPathComponent("features.onnx").path
        try ONNXExporter.write(b.graph, to: URL(fileURLWithPath: model))
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [12, 3, 10, 9], values: r.tensor([12, 3, 10, 9]).floats!)
        let out = dir.appendingPathComponent("cal").path
        let cal = try runProduct("octet", ["calibrate", model, "--data", npy, "--out", out, "--report-samples", "1", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let int8 = try XCTUnwrap((cal.json?["paths"] as? [String: String])?["model"], cal.stdout)
        let saved = dir.appendingPathComponent("int8.npz").path
        let eval = try runProduct("octet", ["eval", model, int8, "--data", npy, "--save-outputs", saved, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let json = try XCTUnwrap(eval.json, eval.stdout)
        XCTAssertNil(json["agreement"] as? Double)
        XCTAssertNil(json["classifier_output"] as? String)
        let outputs = try XCTUnwrap(json["outputs"] as? [[String: Any]], eval.stdout)
        XCTAssertEqual(outputs.compactMap { $0["name"] as? String }, [feat, head])
        XCTAssertEqual(outputs.compactMap { $0["shape"] as? [Int] }, [[6, 10, 9], [4, 10, 9]])
        for o in outputs {
            let sqnr = try XCTUnwrap(o["sqnr_db"] as? Double), cosine = try XCTUnwrap(o["cosine"] as? Double)
            let maxAbs = try XCTUnwrap(o["max_abs_error"] as? Double)
            // 8-bit activations and weights: tens of dB, not the 200 of identical outputs.
            XCTAssertTrue(sqnr > 20 && sqnr < 80, "\(o)")
            XCTAssertTrue(cosine > 0.99 && cosine <= 1 + 1e-12, "\(o)")
            XCTAssertTrue(maxAbs > 0 && maxAbs.isFinite, "\(o)")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: saved))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x50, 0x4b, 0x03, 0x04])
        for name in [feat, head] { XCTAssertNotNil(String(decoding: bytes, as: UTF8.self).range(of: "\(name).npy"), name) }
        let logits = try runProduct("octet", ["eval", model, int8, "--data", npy, "--save-logits", dir.appendingPathComponent("l.npy").path])
        XCTAssertEqual(logits.status, 1)
        XCTAssertTrue(logits.stderr.contains("--save-outputs"), logits.stderr)
    }

    /// One calibration job gives one INT8 model whatever INT8 path the calibrating machine has:
    /// with the FP32 kernels the same (avx512vnni and avx512 share them), the artifacts are
    /// byte-identical (weight bits no longer follow the path).
    func testCalibrationArtifactsDoNotDependOnTheINT8Path() throws {
        guard ISA.avx512.isSupported, ISA.avx512vnni.isSupported else {
            throw XCTSkip("needs both the avx512vnni and avx512 paths (same FP32 kernels); this CPU has \(ISA.supported.map(\.rawValue))")
        }
        let (model, npy) = try SmallModels.convPoolModel(in: dir, seed: 12)
        var files: [[Data]] = []
        for isa in ["avx512vnni", "avx512"] {
            let out = dir.appendingPathComponent(isa).path
            let cal = try runProduct("octet", ["calibrate", model, "--data", npy, "--isa", isa, "--out", out, "--report-samples", "1", "--json"])
            XCTAssertEqual(cal.status, 0, cal.stderr)
            let paths = try XCTUnwrap(cal.json?["paths"] as? [String: String], cal.stdout)
            files.append(try ["model", "table", "tensorRTCache"].map { try Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(paths[$0]))) })
        }
        XCTAssertEqual(files[0], files[1], "artifacts differ between --isa avx512vnni and avx512")
    }

    /// A model with two inputs runs from a `.npz` archive of one array per input (by name):
    /// every output of every sample; an archive that lacks an input is an error naming both.
    func testSeveralInputsFromAnNPZArchive() throws {
        var b = GraphBuilder(name: "two-inputs")
        let x = b.input("x", dims: [nil, 3, 4, 5])
        let y = b.input("y", dims: [nil, 3, 4, 5])
        let sum = b.add(.add, [x, y], name: "sum")
        let prod = b.add(.mul, [x, y], name: "prod")
        b.output(sum, dims: [nil, 3, 4, 5])
        b.output(prod, dims: [nil, 3, 4, 5])
        let model = dir.appendingPathComponent("two.onnx").path
        try ONNXExporter.write(b.graph, to: URL(fileURLWithPath: model))
        var r = TestRandom(seed: 8)
        let n = 7, xs = r.floats(n * 60), ys = r.floats(n * 60)
        let data = dir.appendingPathComponent("xy.npz").path
        let w = try NPZWriter(path: data)
        try w.append("y", rowDims: [3, 4, 5], rows: n, values: ys)
        try w.append("x", rowDims: [3, 4, 5], rows: n, values: xs)
        try w.finish()
        let out = dir.appendingPathComponent("out.npz").path
        let run = try runProduct("octet", ["run", model, "--data", data, "--batch", "3", "--save-outputs", out, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.json?["images"] as? Int, n)
        let saved = Dictionary(uniqueKeysWithValues: try NPZFile.read(path: out).map { ($0.name, $0) })
        XCTAssertEqual(saved[sum]?.shape, [n, 3, 4, 5])
        XCTAssertEqual(saved[sum]?.values, zip(xs, ys).map { $0 + $1 })
        XCTAssertEqual(saved[prod]?.values, zip(xs, ys).map { $0 * $1 })
        // Only x: the error names the inputs the model needs and what the archive holds.
        let partial = dir.appendingPathComponent("x.npz").path
        let wx = try NPZWriter(path: partial)
        try wx.append("x", rowDims: [3, 4, 5], rows: n, values: xs)
        try wx.finish()
        let bad = try runProduct("octet", ["run", model, "--data", partial])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("x, y") && bad.stderr.contains("arrays x"), bad.stderr)
    }

    func testSymbolicHeightAndWidthFromDataAndInputShape() throws {
        let model = try detectorLike()
        // Two batches of different sizes in one .npy each: the plan is specialized per shape.
        for (h, w) in [(8, 12), (5, 7)] {
            let input = dir.appendingPathComponent("x\(h).npy").path
            var r = TestRandom(seed: UInt64(h))
            try NPYFile.write(path: input, shape: [2, 3, h, w], values: r.tensor([2, 3, h, w]).floats!)
            let out = dir.appendingPathComponent("out\(h).npz").path
            let run = try runProduct("octet", ["run", model, "--data", input, "--save-outputs", out, "--json"])
            XCTAssertEqual(run.status, 0, run.stderr)
            let shapes = try XCTUnwrap(run.json?["outputs"] as? [String: [Int]], run.stdout)
            XCTAssertEqual(shapes.count, 2)
            XCTAssertTrue(shapes.values.contains([2, 4, 2 * h, 2 * w]), "\(shapes)")
            XCTAssertTrue(shapes.values.contains([2, 4, h, w]), "\(shapes)")
            XCTAssertNil(run.json?["top1"] as? Double)
            // The archive numpy reads: check its entries without numpy (ZIP of NAME.npy).
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
            XCTAssertEqual(Array(bytes.prefix(4)), [0x50, 0x4b, 0x03, 0x04])
            XCTAssertNotNil(String(decoding: bytes, as: UTF8.self).range(of: ".npy"))
        }
        let bench = try runProduct("octet", ["bench", model, "--input-shape", "x=1x3x16x16", "--batch", "2", "--iterations", "1", "--json"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        // Without --input-shape: the outputs' shapes in the input's symbols, MACs at the base size.
        let symbolic = try runProduct("octet", ["inspect", model, "--json"])
        XCTAssertEqual(symbolic.status, 0, symbolic.stderr)
        let outputs = try XCTUnwrap(symbolic.json?["symbolicOutputs"] as? [String: String], symbolic.stdout)
        XCTAssertEqual(Set(outputs.values), ["[N, 4, 2H, 2W]", "[N, 4, H, W]"])
        XCTAssertEqual(symbolic.json?["macsAtBase"] as? Int, 320 * 320 * 4 * 27)
        let inspect = try runProduct("octet", ["inspect", model, "--input-shape", "x=1x3x16x16", "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertEqual(inspect.json?["macsPerImage"] as? Int, 16 * 16 * 4 * 27)
    }

    func testNumpyReadsSavedOutputs() throws {
        let model = try detectorLike()
        let input = dir.appendingPathComponent("x.npy").path
        var r = TestRandom(seed: 1)
        try NPYFile.write(path: input, shape: [3, 3, 4, 6], values: r.tensor([3, 3, 4, 6]).floats!)
        let out = dir.appendingPathComponent("out.npz").path
        let run = try runProduct("octet", ["run", model, "--data", input, "--save-outputs", out, "--batch", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import numpy as np, sys; z = np.load(sys.argv[1]); print(sorted((k, z[k].shape) for k in z.files))", out]
        let pipe = Pipe()
        check.standardOutput = pipe
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { throw XCTSkip("python3 is not installed: numpy read-back skipped") }
        check.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try XCTSkipIf(check.terminationStatus != 0 && text.isEmpty, "numpy is not installed: read-back skipped")
        XCTAssertTrue(text.contains("(3, 4, 8, 12)") && text.contains("(3, 4, 4, 6)"), text)
    }

    func expectFailure(_ args: [String], mentions texts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runProduct("octet", args)
        XCTAssertEqual(r.status, 1, "expected exit status 1 for \(args): \(r.stderr)", file: file, line: line)
        for text in texts { XCTAssertTrue(r.stderr.contains(text), "stderr should mention '\(text)': \(r.stderr)", file: file, line: line) }
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    func testBadGeneralGraphsAreClearErrors() throws {
        let model = try detectorLike()
        // A symbolic dimension nothing fixes.
        try expectFailure(["bench", model, "--batch", "1", "--iterations", "1"], mentions: ["input 'x'", "symbolic dimensions [N,3,?,?]", "--input-shape"])
        try expectFailure(["bench", model, "--input-shape", "x=1x4x8x8", "--iterations", "1"], mentions: ["input 'x'", "[1,4,8,8]"])
        // A Resize mode Octet does not implement.
        let cubic = try detectorLike(resizeMode: "cubic")
        try expectFailure(["inspect", cubic], mentions: ["node 'upsample'", "'mode'", "'cubic' is not implemented"])
        // A Reshape that does not fit.
        var b = GraphBuilder(name: "reshape")
        let x = b.input("x", dims: [nil, 3, 4, 4])
        let t = b.constant("target", try Tensor(shape: [2], data: .int64([1, 7])))
        let y = b.add(.reshape(allowZero: false), [x, t], name: "bad_reshape")
        b.output(y, dims: [nil, 7])
        let path = dir.appendingPathComponent("reshape.onnx")
        try ONNXExporter.write(b.graph, to: path)
        try expectFailure(["bench", path.path, "--iterations", "1"], mentions: ["node 'bad_reshape'", "cannot reshape [1,3,4,4]", "to [1, 7]"])
        // A batch fixed above 1: the message names it, not the sample's shape (which fits).
        var f = GraphBuilder(name: "fixed")
        let fx = f.input("x", dims: [4, 3, 4, 4])
        f.output(f.add(.relu, [fx]), dims: [4, 3, 4, 4])
        let fixed = dir.appendingPathComponent("fixed.onnx")
        try ONNXExporter.write(f.graph, to: fixed)
        let npy = dir.appendingPathComponent("fixed.npy").path
        var r = TestRandom(seed: 8)
        try NPYFile.write(path: npy, shape: [4, 3, 4, 4], values: r.tensor([4, 3, 4, 4]).floats!)
        try expectFailure(["eval", fixed.path, fixed.path, "--data", npy], mentions: ["input 'x' has a fixed batch of 4", "dynamic batch"])
    }
}
