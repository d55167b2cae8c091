import Foundation
import OctetTestSupport
import XCTest

/// `--max-drop`: on a small model whose every subset of quantized nodes can be tried, the nodes returned
/// to FP32 meet the bound on the held-out rows, and no proper subset of them does (the set is
/// minimal); the metric the search reports is the one measured independently; at a confidence it
/// holds what resamplings of the rows vouch for; `octet calibrate` reports the search, and refuses
/// a top-1 bound without labels and a confidence outside [0, 1).
final class AccuracyControlTests: XCTestCase {
    /// x [N,3,10,10] → 3×3 convs with Relu → global average → Gemm: four weighted layers and the
    /// quantized global average.
    func model() throws -> Graph {
        var b = GraphBuilder(name: "small")
        let x = b.input("x", dims: [nil, 3, 10, 10])
        var r = TestRandom(seed: 41)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String {
            b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                                [v, b.constant(name + "_w", r.tensor([cout, cin, 3, 3])), b.constant(name + "_b", r.tensor([cout], -0.2, 0.2))],
                                name: name)])
        }
        let y = conv(conv(conv(x, 3, 12, "c1"), 12, 12, "c2"), 12, 12, "c3")
        let pooled = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
        let logits = b.add(.gemm(GemmAttributes(transB: true)), [pooled, b.constant("fc_w", r.tensor([10, 12])), b.constant("fc_b", r.tensor([10]))],
                           name: "fc")
        b.output(logits, dims: [nil, 10])
        return b.graph
    }

    /// 40 random samples of the model's input, as a dataset.
    func samples(seed: UInt64) throws -> NPYDataset {
        var r = TestRandom(seed: seed)
        let npy = try TestPaths.temporaryDirectory(self).appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [40, 3, 10, 10], values: r.tensor([40, 3, 10, 10]).floats!)
        return try NPYDataset(path: npy)
    }

    /// 100·(1 − noise/signal) of `qdq`'s outputs against FP32 on `rows`: the sqnr metric.
    func metric(_ fp32: Graph, _ qdq: Graph, _ data: any Dataset, _ rows: Range<Int>) throws -> Double {
        let a = try ModelRun(graph: try ModelLoader.optimize(fp32), options: PlanOptions(threads: 1))
        let b = try ModelRun(graph: qdq, options: PlanOptions(threads: 1))
        var signal = 0.0, noise = 0.0
        for (_, inputs) in try a.inputBatches(data, rows) {
            let x = try XCTUnwrap(try a.run(inputs).values.first?.floats), y = try XCTUnwrap(try b.run(inputs).values.first?.floats)
            for (u, v) in zip(x, y) { signal += Double(u) * Double(u); noise += Double(u - v) * Double(u - v) }
        }
        return 100 * (1 - noise / signal)
    }

    func testReturnedLayersMeetTheBoundAndAreMinimal() throws {
        let graph = try model()
        let data = try samples(seed: 42)
        let validation = 30..<40
        // Every subset of the quantized nodes (four layers and the global average) in FP32, with
        // the thresholds of rows 0..<30.
        let layers = InsertQuantizeDequantize.quantizedNodes(try ModelLoader.optimize(graph), options: QuantizeOptions())
        XCTAssertEqual(layers.count, 5, "\(layers)")
        var base = QuantConfig()
        base.samples = 30
        base.sensitivityMarginDB = nil
        base.plan = PlanOptions(threads: 1)
        var value: [Set<String>: Double] = [:]
        for mask in 0..<(1 << layers.count) {
            let subset = Set(layers.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element))
            var c = base
            c.quantize.excludedNodes = subset
            value[subset] = try metric(graph, try quantizeModel(graph, calibrationData: data, config: c).qdq, data, validation)
        }
        let allInt8 = try XCTUnwrap(value[[]])
        // A bound the all-INT8 model misses but some subset meets.
        let best = value.values.max()!
        XCTAssertLessThan(allInt8, best - 1e-6, "returning layers to FP32 must help on this model")
        let bound = (100 - allInt8 + 100 - best) / 2
        var config = base
        config.samples = 40
        config.accuracy = AccuracyBound(maxDrop: bound, metric: .sqnr, validationSamples: 10, confidence: 0)
        let q = try quantizeModel(graph, calibrationData: data, config: config)
        let report = try XCTUnwrap(q.accuracy)
        XCTAssertTrue(report.met)
        XCTAssertEqual(report.validationSamples, 10)
        let returned = Set(report.returned.map(\.layer))
        XCTAssertFalse(returned.isEmpty)
        XCTAssertEqual(report.allInt8, allInt8, accuracy: 1e-9)
        XCTAssertEqual(report.final, try XCTUnwrap(value[returned]), accuracy: 1e-9, "the search measures what the test measures")
        XCTAssertLessThanOrEqual(100 - value[returned]!, bound + 1e-9)
        for layer in returned {
            XCTAssertGreaterThan(100 - value[returned.subtracting([layer])]!, bound, "\(returned.sorted()) without \(layer) still meets the bound")
        }
        // The model written has exactly those layers in FP32 (their weights are not dequantized).
        let quantizedWeights = Set(q.qdq.nodes.filter { n in n.inputs.count > 1 && n.inputs[1].hasSuffix("_dequantized") }.map(\.name))
        XCTAssertEqual(quantizedWeights.intersection(returned), [])
        XCTAssertEqual(Set(report.ranking.map(\.layer)), Set(layers))
    }

    /// At a confidence, the metric held is the one the validation rows vouch for over resamplings
    /// of them: 0 is the plain metric; a higher confidence never gives more; a ratio of sums lies
    /// between the rows' own ratios, so every value lies between the worst row's metric and the
    /// best's; the same rows give the same value every time.
    func testConfidenceHoldsTheMetricTheResampledRowsVouchFor() throws {
        let graph = try model()
        let data = try samples(seed: 44)
        var base = QuantConfig()
        base.sensitivityMarginDB = nil
        base.plan = PlanOptions(threads: 1)
        base.samples = 30
        let qdq = try quantizeModel(graph, calibrationData: data, config: base).qdq
        let plain = try metric(graph, qdq, data, 30..<40)
        let rows = try (30..<40).map { try metric(graph, qdq, data, $0..<($0 + 1)) }
        let (worst, best) = (try XCTUnwrap(rows.min()), try XCTUnwrap(rows.max()))
        XCTAssertGreaterThan(best - worst, 1e-4, "the rows must differ for resampling to matter: \(rows)")
        func allInt8(_ confidence: Double) throws -> Double {
            var c = base
            c.samples = 40
            // A bound every model meets: the search measures the all-INT8 model and stops.
            c.accuracy = AccuracyBound(maxDrop: 100, metric: .sqnr, validationSamples: 10, confidence: confidence)
            let report = try XCTUnwrap(try quantizeModel(graph, calibrationData: data, config: c).accuracy)
            XCTAssertEqual(report.confidence, confidence)
            return report.allInt8
        }
        XCTAssertEqual(try allInt8(0), plain, accuracy: 1e-9)
        let values = try [0.5, 0.9, 0.99].map(allInt8)
        XCTAssertLessThan(values[1], plain, "at 90% the rows vouch for less than their plain metric")
        for (a, b) in zip(values, values.dropFirst()) { XCTAssertGreaterThanOrEqual(a, b, "\(values)") }
        for v in values { XCTAssertTrue(v >= worst - 1e-9 && v <= best + 1e-9, "\(v) outside the rows' [\(worst), \(best)]") }
        XCTAssertEqual(try allInt8(0.9), values[1], "the resamplings are fixed")
        // The default is the documented one.
        var c = base
        c.samples = 40
        c.accuracy = AccuracyBound(maxDrop: 100, metric: .sqnr, validationSamples: 10)
        XCTAssertEqual(try quantizeModel(graph, calibrationData: data, config: c).accuracy?.confidence, AccuracyBound.defaultConfidence)
        XCTAssertEqual(AccuracyBound.defaultConfidence, 0.95, "the default docs/calibration.md cross-validated and the user guide states")
    }

    func testTheCommandReportsTheSearchAndRefusesTop1WithoutLabels() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let path = dir.appendingPathComponent("small.onnx").path
        try ONNXExporter.write(try model(), to: URL(fileURLWithPath: path))
        var r = TestRandom(seed: 43)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [12, 3, 10, 10], values: r.tensor([12, 3, 10, 10]).floats!)
        let out = dir.appendingPathComponent("cal").path
        // A drop of 0 points: only FP32's own outputs meet it, which every node returned gives
        // (the FP32 islands run FP32's kernels).
        let cal = try runProduct("octet", ["calibrate", path, "--data", npy, "--max-drop", "0", "--metric", "sqnr", "--out", out,
                                           "--report-samples", "1", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stdout + cal.stderr)
        let accuracy = try XCTUnwrap(cal.json?["accuracy"] as? [String: Any], cal.stdout)
        XCTAssertEqual(accuracy["met"] as? Bool, true)
        XCTAssertEqual(accuracy["final"] as? Double, 100)
        XCTAssertLessThan(try XCTUnwrap(accuracy["allInt8"] as? Double), 100)
        XCTAssertEqual(accuracy["validationSamples"] as? Int, 3, "a quarter of 12")
        let report = try String(contentsOfFile: dir.appendingPathComponent("cal/report.md").path, encoding: .utf8)
        XCTAssertTrue(report.contains("## Accuracy-driven mode (--max-drop 0.00 --metric sqnr)") && report.contains("the bound is met"), report)
        // Top-1 without labels is refused before any work, naming the flag.
        let top1 = try runProduct("octet", ["calibrate", path, "--data", npy, "--max-drop", "1", "--metric", "top1", "--out", out])
        XCTAssertEqual(top1.status, 1)
        XCTAssertTrue(top1.stderr.contains("--labels"), top1.stderr)
        // A confidence of 1 (or more) is refused, and so is a confidence without a bound.
        for flags in [["--max-drop", "1", "--confidence", "1"], ["--confidence", "0.9"]] {
            let refused = try runProduct("octet", ["calibrate", path, "--data", npy, "--out", out] + flags)
            XCTAssertNotEqual(refused.status, 0, flags.joined(separator: " "))
            XCTAssertTrue(refused.stderr.contains("--confidence"), refused.stderr)
        }
    }
}
