import Foundation
import OctetTestSupport
import XCTest

/// Weights-only vs activations-only INT8: the two half-quantized models keep exactly the
/// quantizers they should, their output SQNR behaves as noise that adds (each half alone is no
/// worse than both), a model whose weights quantize exactly puts the whole loss on the
/// activations, and the calibration report gives the comparison.
final class QuantizationDiagnosisTests: XCTestCase {
    /// x [N,3,10,10] → 3×3 conv + Relu → 3×3 conv + Relu → global average → Gemm. With
    /// `exactWeights`, every output channel's weights are integers whose largest magnitude is 127
    /// (per-channel 8-bit quantization is then exact) and the biases are zero.
    func model(exactWeights: Bool) -> Graph {
        var b = GraphBuilder(name: "diag")
        let x = b.input("x", dims: [nil, 3, 10, 10])
        var r = TestRandom(seed: 7)
        func weights(_ shape: [Int]) -> Tensor {
            guard exactWeights else { return r.tensor(Shape(shape)) }
            let per = shape.dropFirst().reduce(1, *)
            let values = (0..<(shape[0] * per)).map { i in i % per == 0 ? Float(i / per % 2 == 0 ? 127 : -127) : Float(r.int(-127...127)) }
            return try! Tensor(shape: Shape(shape), floats: values.map { $0 / 1024 })
        }
        func bias(_ n: Int) -> Tensor { exactWeights ? try! Tensor(shape: [n], floats: Array(repeating: 0, count: n)) : r.tensor(Shape([n]), -0.2, 0.2) }
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String {
            b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                                [v, b.constant(name + "_w", weights([cout, cin, 3, 3])), b.constant(name + "_b", bias(cout))], name: name)])
        }
        let pooled = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [conv(conv(x, 3, 8, "c1"), 8, 8, "c2")])])
        let logits = b.add(.gemm(GemmAttributes(transB: true)), [pooled, b.constant("fc_w", weights([10, 8])), b.constant("fc_b", bias(10))], name: "fc")
        b.output(logits, dims: [nil, 10])
        return b.graph
    }

    func calibrated(_ graph: Graph) throws -> (QuantizedModel, any Dataset) {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 9)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [12, 3, 10, 10], values: r.tensor([12, 3, 10, 10]).floats!)
        let data = try NPYDataset(path: npy)
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        return (try quantizeModel(graph, calibrationData: data, config: config), data)
    }

    func testHalfQuantizedModelsKeepTheirQuantizersAndNoiseAdds() throws {
        let (q, data) = try calibrated(model(exactWeights: false))
        let quantizers = { (g: Graph) in g.nodes.filter { if case .quantizeLinear = $0.op { true } else { false } }.count }
        let weightDQs = { (g: Graph) in g.nodes.filter { n in
            if case .dequantizeLinear = n.op { g.initializers[n.inputs[0]] != nil } else { false } }.count
        }
        XCTAssertGreaterThan(quantizers(q.qdq), 0)
        XCTAssertGreaterThan(weightDQs(q.qdq), 0)
        let weightsOnly = weightsOnlyModel(qdq: q.qdq), activationsOnly = activationsOnlyModel(qdq: q.qdq, fp32: q.fp32)
        XCTAssertEqual(quantizers(weightsOnly), 0, "weights only: no activation is quantized")
        XCTAssertEqual(weightDQs(weightsOnly), weightDQs(q.qdq))
        XCTAssertEqual(quantizers(activationsOnly), quantizers(q.qdq))
        XCTAssertEqual(weightDQs(activationsOnly), 0, "activations only: every weight and bias is FP32 again")
        let d = try diagnoseQuantization(q, data: data, samples: 8, options: PlanOptions(threads: 1))
        XCTAssertEqual(d.samples, 8)
        XCTAssertTrue(d.int8DB.isFinite && d.int8DB > 10 && d.int8DB < 60, "\(d)")
        XCTAssertGreaterThanOrEqual(d.weightsOnlyDB, d.int8DB - 0.5, "\(d)")
        XCTAssertGreaterThanOrEqual(d.activationsOnlyDB, d.int8DB - 0.5, "\(d)")
        XCTAssertFalse(d.verdict.isEmpty)
    }

    func testExactWeightsPutTheWholeLossOnTheActivations() throws {
        let (q, data) = try calibrated(model(exactWeights: true))
        let d = try diagnoseQuantization(q, data: data, samples: 8, options: PlanOptions(threads: 1))
        // Only the biases' int32 rounding remains on the weight side.
        XCTAssertGreaterThan(d.weightsOnlyDB, 80, "\(d)")
        XCTAssertEqual(d.activationsOnlyDB, d.int8DB, accuracy: 0.5, "\(d)")
        XCTAssertTrue(d.verdict.hasPrefix("the activations cost more"), d.verdict)
    }

    func testTheReportComparesWeightsAndActivations() throws {
        let (q, data) = try calibrated(model(exactWeights: false))
        let dir = try TestPaths.temporaryDirectory(self)
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        config.reportSamples = 4
        let paths = try CalibrationArtifacts.writeAll(q, config: config, data: data, modelName: "diag",
                                                      modelSHA256: "0", to: dir.path)
        let report = try String(contentsOfFile: paths.report, encoding: .utf8)
        XCTAssertTrue(report.contains("## Weights or activations?"), report)
        XCTAssertTrue(report.contains("| weights only (activations FP32) |"), report)
        XCTAssertTrue(report.contains("| activations only (weights and biases FP32) |"), report)
        let html = try String(contentsOfFile: paths.html, encoding: .utf8)
        XCTAssertTrue(html.contains("Weights or activations?"))
    }
}
