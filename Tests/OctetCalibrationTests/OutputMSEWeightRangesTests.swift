import Foundation
import OctetTestSupport
import XCTest

/// `--weight-ranges outputs`: in a layer whose one large input meets small weights while its large
/// weights meet tiny inputs, the weights alone keep the full range; the outputs choose the range
/// at which the weights that matter round best (far less output error); the calibration records
/// the scales and the table alone rebuilds the same INT8 model.
final class OutputMSEWeightRangesTests: XCTestCase {
    /// x [N,16,4,4] → 1×1 conv 16→4 (+ Relu) → global average → Flatten [N, 4]. Input channel 0
    /// is ~100 and meets weights ~0.01; channels 1–15 are ~0.001 and meet weights up to 1.
    func model(in dir: URL) throws -> (Graph, any Dataset) {
        var b = GraphBuilder(name: "ranges")
        let x = b.input("x", dims: [nil, 16, 4, 4])
        var r = TestRandom(seed: 13)
        var w = r.floats(4 * 16, -1, 1)
        for o in 0..<4 { w[o * 16] = 0.008 + 0.004 * Float(o) }
        let y = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [x, b.constant("w", try Tensor(shape: [4, 16, 1, 1], floats: w)),
                                                               b.constant("b", r.tensor([4], -0.1, 0.1))], name: "conv")
        b.output(b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [b.add(.relu, [y])])]), dims: [nil, 4])
        var values: [Float] = []
        for _ in 0..<8 {
            for c in 0..<16 { values += r.floats(16, c == 0 ? 90 : -0.001, c == 0 ? 110 : 0.001) }
        }
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [8, 16, 4, 4], values: values)
        return (b.graph, try NPYDataset(path: npy))
    }

    func testOutputsPickTheRangeTheWeightsCannotSeeAndTheTableRebuildsIt() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let (graph, data) = try model(in: dir)
        let options = QuantizeOptions()
        let scales = try XCTUnwrap(try outputMSEWeightScales(graph, data: data, samples: 8, options: options, plan: PlanOptions(threads: 1))["conv"])
        let w = try XCTUnwrap(graph.initializers["w"]?.floats)
        let byWeights = WeightQuantizer.quantize(w, shape: [4, 16, 1, 1], axis: 0, perChannel: true, qmax: 127, clipping: true).scales
        for c in 0..<4 {
            let maxAbs = w[(c * 16)..<(c * 16 + 16)].map(abs).max()!
            XCTAssertGreaterThan(byWeights[c], 0.8 * maxAbs / 127, "channel \(c): the weights alone keep most of the range")
            // A candidate of the grid max|w|·(1 − k/50), k < 25: here the one at which channel 0's
            // small weight (which meets the large input) rounds best.
            let k = (1 - scales[c] * 127 / maxAbs) * 50
            XCTAssertEqual(k, k.rounded(), accuracy: 1e-3, "channel \(c)")
            XCTAssertTrue(k > -0.01 && k < 24.01, "channel \(c): k = \(k)")
        }
        // End to end: the calibration uses and records them; less output error than by the weights.
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        let plain = try quantizeModel(graph, calibrationData: data, config: config)
        config.weightRanges = .outputs
        let q = try quantizeModel(graph, calibrationData: data, config: config)
        XCTAssertEqual(q.weightScales?["conv"], scales)
        XCTAssertNil(plain.weightScales)
        let d0 = try diagnoseQuantization(plain, data: data, samples: 8, options: PlanOptions(threads: 1))
        let d1 = try diagnoseQuantization(q, data: data, samples: 8, options: PlanOptions(threads: 1))
        XCTAssertGreaterThan(d1.weightsOnlyDB, d0.weightsOnlyDB + 3, "weights only: \(d0.weightsOnlyDB) → \(d1.weightsOnlyDB) dB")
        var table = try assertTheTableRebuildsTheModel(q, graph: graph, config: config, data: data, in: dir).table
        XCTAssertEqual(table.provenance?.weightScales?["conv"], scales)
        // An edited table with a zero scale is refused with the node, not trapped on.
        table.provenance?.weightScales?["conv"] = [0, 1, 1, 1]
        let sha = ContentHash.sha256(try Data(contentsOf: dir.appendingPathComponent("m.onnx")))
        XCTAssertThrowsError(try quantize(graph, modelSHA256: sha, recipe: nil, table: table)) {
            XCTAssertEqual($0 as? TableMismatch, .weightScales(node: "conv"))
        }
    }
}
