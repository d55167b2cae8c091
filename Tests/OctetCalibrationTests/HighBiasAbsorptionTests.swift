import Foundation
import OctetTestSupport
import XCTest

/// `--absorb-high-bias` through the calibration: the graph it observes computes the same outputs
/// on the calibration data, the absorbed activation gets a narrower threshold, and the table's
/// provenance rebuilds the same INT8 model without any image.
final class HighBiasAbsorptionTests: XCTestCase {
    /// x [N,3,8,8] → 3×3 conv with biases 1..8 + Relu → 1×1 conv + Relu → global average → Gemm.
    func model() throws -> Graph {
        var b = GraphBuilder(name: "absorb")
        let x = b.input("x", dims: [nil, 3, 8, 8])
        var r = TestRandom(seed: 23)
        let a = b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                                    [x, b.constant("wa", r.tensor([8, 3, 3, 3], -0.05, 0.05)),
                                     b.constant("ba", try Tensor(shape: [8], floats: (1...8).map(Float.init)))], name: "a")])
        let p = b.add(.relu, [b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [a, b.constant("wp", r.tensor([8, 8, 1, 1])),
                                                                                 b.constant("bp", r.tensor([8], -0.1, 0.1))], name: "p")])
        let logits = b.add(.gemm(GemmAttributes(transB: true)), [b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [p])]),
                                                                 b.constant("fw", r.tensor([5, 8])), b.constant("fb", r.tensor([5]))], name: "fc")
        b.output(logits, dims: [nil, 5])
        return b.graph
    }

    func testAbsorptionKeepsTheOutputsNarrowsTheActivationAndRebuildsFromTheTable() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 3)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [10, 3, 8, 8], values: r.tensor([10, 3, 8, 8]).floats!)
        let data = try NPYDataset(path: npy)
        let graph = try model()
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        let plain = try quantizeModel(graph, calibrationData: data, config: config)
        config.highBiasAbsorption = true
        let q = try quantizeModel(graph, calibrationData: data, config: config)
        let amounts = try XCTUnwrap(q.absorbedBiases?["a"])
        XCTAssertEqual(amounts.count, 8)
        XCTAssertTrue(amounts.allSatisfy { $0 > 0 }, "\(amounts)")
        XCTAssertNil(plain.absorbedBiases)
        // The same function on the calibration data.
        let options = PlanOptions(threads: 1)
        let reference = try ModelRun(graph: try ModelLoader.optimize(graph), options: options), adjusted = try ModelRun(graph: q.fp32, options: options)
        for (_, inputs) in try reference.inputBatches(data, 0..<data.count) {
            let u = try XCTUnwrap(try reference.run(inputs).values.first?.floats), v = try XCTUnwrap(try adjusted.run(inputs).values.first?.floats)
            XCTAssertLessThan(maxRelativeError(v, u), 1e-4)
        }
        // The Relu output between `a` and `p` is narrower: its threshold drops.
        let aOut = try XCTUnwrap(graph.nodes.first { $0.name == "a" }).outputs[0]
        let relu = try XCTUnwrap(graph.nodes.first { $0.inputs.first == aOut }).outputs[0]
        let before = try XCTUnwrap(plain.table[relu]?.threshold), after = try XCTUnwrap(q.table[relu]?.threshold)
        XCTAssertLessThan(after, before - 0.5, "threshold \(before) → \(after)")
        // The provenance records the amounts; the table alone rebuilds the same INT8 model.
        let (table, paths) = try assertTheTableRebuildsTheModel(q, graph: graph, config: config, data: data, in: dir)
        XCTAssertEqual(table.provenance?.absorbedBiases?["a"], amounts)
        XCTAssertTrue(try String(contentsOfFile: paths.report, encoding: .utf8).contains("high-bias absorption: 1 convolution(s)"))
    }
}
