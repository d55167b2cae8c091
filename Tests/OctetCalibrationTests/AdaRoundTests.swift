import Foundation
import OctetTestSupport
import XCTest

/// `--weight-rounding adaround`: each weight rounds up or down as minimizes its layer's output
/// error on the samples' FP32 inputs.
final class AdaRoundTests: XCTestCase {
    /// x [8, 4, 3, 3] → 3×3 convolution, padding 1, 2 groups (2 input, 2 output channels each),
    /// 4-bit weights (K = 18 weights per output channel, so every rounding can be tried). The
    /// input channels are strongly correlated, so rounding errors of one output's weights add up
    /// unless some round the other way: the nearest code is not the best one.
    func model(in dir: URL, seed: UInt64) throws -> (Graph, any Dataset, x: [Float], w: [Float]) {
        var r = TestRandom(seed: seed)
        var b = GraphBuilder(name: "adaround")
        let x = b.input("x", dims: [nil, 4, 3, 3])
        let w = r.floats(4 * 2 * 3 * 3)
        let y = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 2),
                      [x, b.constant("w", try Tensor(shape: [4, 2, 3, 3], floats: w))], name: "conv")
        b.output(y, dims: [nil, 4, 3, 3])
        let values = Self.correlatedInputs(samples: 8, pixels: 9, lo: 0.2, &r)
        let npy = dir.appendingPathComponent("x-\(seed).npy").path
        try NPYFile.write(path: npy, shape: [8, 4, 3, 3], values: values)
        return (b.graph, try NPYDataset(path: npy), values, w)
    }

    /// NCHW values of 4 channels that are one base image in [lo, 1) plus noise of ±0.05 each.
    static func correlatedInputs(samples: Int, pixels: Int, lo: Float, _ r: inout TestRandom) -> [Float] {
        var values: [Float] = []
        for _ in 0..<samples {
            let base = r.floats(pixels, lo, 1)
            for _ in 0..<4 { values += base.map { $0 + r.floats(1, -0.05, 0.05)[0] } }
        }
        return values
    }

    /// Per output channel, Σ over samples and pixels of (Σ (ŵ − w)·x)² for the codes `q` at
    /// `scales`, computed directly from the input (zero padding), in Double.
    func outputErrors(x: [Float], w: [Float], codes q: [Int8], scales: [Float]) -> [Double] {
        var errors = [Double](repeating: 0, count: 4)
        for n in 0..<8 {
            for o in 0..<4 {
                let g = o / 2
                for oy in 0..<3 {
                    for ox in 0..<3 {
                        var e = 0.0
                        for c in 0..<2 {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let iy = oy - 1 + ky, ix = ox - 1 + kx
                                    guard iy >= 0, iy < 3, ix >= 0, ix < 3 else { continue }
                                    let wi = ((o * 2 + c) * 3 + ky) * 3 + kx
                                    let input = Double(x[((n * 4 + g * 2 + c) * 3 + iy) * 3 + ix])
                                    e += (Double(q[wi]) * Double(scales[o]) - Double(w[wi])) * input
                                }
                            }
                        }
                        errors[o] += e * e
                    }
                }
            }
        }
        return errors
    }

    /// AdaRound relaxes a binary problem, so it need not find the best rounding: on these layers it
    /// lands at 1.02–1.37× the best error (the nearest code: 2.9–8.5×); the test prints the ratios.
    func testAdaRoundBeatsNearestAndComesCloseToTheBestRoundingOfEachChannel() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        for seed: UInt64 in [3, 4] {
            let (graph, data, x, w) = try model(in: dir, seed: seed)
            let options = QuantizeOptions(weightBits: 4)
            let up = try XCTUnwrap(try adaRoundedWeights(graph, data: data, samples: 8, options: options, plan: PlanOptions(threads: 1))["conv"])
            XCTAssertEqual(up.count, w.count)
            let (nearest, scales) = WeightQuantizer.quantize(w, shape: [4, 2, 3, 3], axis: 0, perChannel: true, qmax: 7, clipping: true)
            let ada = WeightQuantizer.codes(w, shape: [4, 2, 3, 3], axis: 0, scales: scales, qmax: 7, roundedUp: up)
            for (i, a) in ada.enumerated() {
                let down = (w[i] / scales[i / 18]).rounded(.down)
                XCTAssertTrue(Float(a) == min(max(down, -7), 7) || Float(a) == min(max(down + 1, -7), 7), "weight \(i): \(a) is neither neighbour")
            }
            let adaErrors = outputErrors(x: x, w: w, codes: ada, scales: scales)
            let nearestErrors = outputErrors(x: x, w: w, codes: nearest, scales: scales)
            // The best of the 2^18 roundings of each channel: its error is dᵀ·H·d for the weight
            // errors d and the group's input patches' Gram matrix H (built here from the data).
            var best = [Double](repeating: .infinity, count: 4)
            for o in 0..<4 {
                let g = o / 2
                var h = [Double](repeating: 0, count: 18 * 18)
                for n in 0..<8 {
                    for oy in 0..<3 {
                        for ox in 0..<3 {
                            var p = [Double](repeating: 0, count: 18)
                            for c in 0..<2 {
                                for ky in 0..<3 {
                                    for kx in 0..<3 {
                                        let iy = oy - 1 + ky, ix = ox - 1 + kx
                                        guard iy >= 0, iy < 3, ix >= 0, ix < 3 else { continue }
                                        p[(c * 3 + ky) * 3 + kx] = Double(x[((n * 4 + g * 2 + c) * 3 + iy) * 3 + ix])
                                    }
                                }
                            }
                            for i in 0..<18 { for j in 0..<18 { h[i * 18 + j] += p[i] * p[j] } }
                        }
                    }
                }
                let s = Double(scales[o])
                let down = (0..<18).map { Double(min(max((w[o * 18 + $0] / scales[o]).rounded(.down), -7), 7)) }
                let up = (0..<18).map { Double(min(max((w[o * 18 + $0] / scales[o]).rounded(.down) + 1, -7), 7)) }
                var d = [Double](repeating: 0, count: 18)
                for mask in 0..<(1 << 18) {
                    for j in 0..<18 { d[j] = ((mask >> j) & 1 == 1 ? up[j] : down[j]) * s - Double(w[o * 18 + j]) }
                    var e = 0.0
                    for i in 0..<18 {
                        var row = 0.0
                        for j in 0..<18 { row += h[i * 18 + j] * d[j] }
                        e += d[i] * row
                    }
                    best[o] = min(best[o], e)
                }
                XCTAssertLessThanOrEqual(best[o], nearestErrors[o] * (1 + 1e-9), "the search sees the nearest rounding too")
            }
            for o in 0..<4 {
                XCTAssertLessThanOrEqual(adaErrors[o], nearestErrors[o] * (1 + 1e-9), "seed \(seed) channel \(o): AdaRound worse than nearest")
                XCTAssertLessThanOrEqual(adaErrors[o], best[o] * 1.5 + 1e-12,
                                         "seed \(seed) channel \(o): AdaRound \(adaErrors[o]), best \(best[o]), nearest \(nearestErrors[o])")
            }
            print("AdaRound seed \(seed): error / best per channel " + (0..<4).map { String(format: "%.2f", adaErrors[$0] / best[$0]) }.joined(separator: " ")
                  + "; nearest / best " + (0..<4).map { String(format: "%.2f", nearestErrors[$0] / best[$0]) }.joined(separator: " "))
            XCTAssertLessThan(adaErrors.reduce(0, +), 0.5 * nearestErrors.reduce(0, +),
                              "seed \(seed): AdaRound \(adaErrors) vs nearest \(nearestErrors), best \(best)")
        }
    }

    /// The calibration takes and records the rounding (with a depthwise layer behind the grouped
    /// one): the same whatever the threads, better weights-only output than the nearest codes,
    /// and the table alone rebuilds the model; a table whose flags are edited is refused.
    func testCalibrationRecordsTheRoundingAndTheTableRebuildsIt() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 21)
        var b = GraphBuilder(name: "adaround2")
        let x = b.input("x", dims: [nil, 4, 5, 5])
        let y = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 2),
                      [x, b.constant("w", r.tensor([4, 2, 3, 3])), b.constant("b", r.tensor([4], -0.1, 0.1))], name: "conv")
        let z = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2]), group: 4),
                      [b.add(.relu, [y]), b.constant("dww", r.tensor([4, 1, 3, 3])), b.constant("db", r.tensor([4], -0.1, 0.1))], name: "dw")
        b.output(z, dims: [nil, 4, 2, 2])
        let graph = b.graph
        let values = Self.correlatedInputs(samples: 16, pixels: 25, lo: 0, &r)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [16, 4, 5, 5], values: values)
        let data = try NPYDataset(path: npy)

        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        config.plan = PlanOptions(threads: 1)
        let plain = try quantizeModel(graph, calibrationData: data, config: config)
        XCTAssertNil(plain.roundedUp)
        config.weightRounding = .adaround
        let q = try quantizeModel(graph, calibrationData: data, config: config)
        XCTAssertEqual(q.roundedUp?.keys.sorted(), ["conv", "dw"])
        config.plan = PlanOptions(threads: 2)
        XCTAssertEqual(try quantizeModel(graph, calibrationData: data, config: config).roundedUp, q.roundedUp, "threads changed the rounding")
        let d0 = try diagnoseQuantization(plain, data: data, samples: 16, options: PlanOptions(threads: 1))
        let d1 = try diagnoseQuantization(q, data: data, samples: 16, options: PlanOptions(threads: 1))
        XCTAssertGreaterThan(d1.weightsOnlyDB, d0.weightsOnlyDB + 1, "weights only: \(d0.weightsOnlyDB) → \(d1.weightsOnlyDB) dB")

        var table = try assertTheTableRebuildsTheModel(q, graph: graph, config: config, data: data, in: dir).table
        XCTAssertEqual(table.provenance?.roundedUp?["dw"].flatMap { RoundingFlags.decode($0, count: 36) }, q.roundedUp?["dw"])
        let sha = ContentHash.sha256(try Data(contentsOf: dir.appendingPathComponent("m.onnx")))
        let good = table
        table.provenance?.roundedUp?["dw"] = RoundingFlags.encode(Array(repeating: true, count: 35 - 8))
        XCTAssertThrowsError(try quantize(graph, modelSHA256: sha, recipe: nil, table: table)) {
            XCTAssertEqual($0 as? TableMismatch, .roundedUp(node: "dw"))
        }
        table = good
        table.provenance?.roundedUp?["nowhere"] = RoundingFlags.encode([true])
        XCTAssertThrowsError(try quantize(graph, modelSHA256: sha, recipe: nil, table: table)) {
            XCTAssertEqual($0 as? TableMismatch, .roundedUp(node: "nowhere"))
        }
        table = good
        table.provenance?.roundedUp?["conv"] = "not base64!"
        XCTAssertThrowsError(try quantize(graph, modelSHA256: sha, recipe: nil, table: table)) {
            XCTAssertEqual($0 as? TableMismatch, .roundedUp(node: "conv"))
        }
    }

    /// Dense layers round too: two Gemms over the same correlated features, one storing B as
    /// [N, K] (transB) and one as [K, N], 4-bit weights. AdaRound's flags (in B's stored order)
    /// give each layer a clearly lower output error on the samples than the nearest codes (a
    /// flag in the wrong order would not), the calibration records them for both and its QDQ
    /// weights are those codes, whatever the threads.
    func testDenseLayersRoundToALowerOutputErrorThanTheNearestCodes() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 41)
        var b = GraphBuilder(name: "adaround-dense")
        let x = b.input("x", dims: [nil, 8])
        let w1 = r.floats(6 * 8), w2 = r.floats(8 * 5)
        let y1 = b.add(.gemm(GemmAttributes(transB: true)), [x, b.constant("w1", try Tensor(shape: [6, 8], floats: w1)),
                                                           b.constant("b1", r.tensor([6], -0.1, 0.1))], name: "fc1")
        let y2 = b.add(.gemm(GemmAttributes()), [x, b.constant("w2", try Tensor(shape: [8, 5], floats: w2))], name: "fc2")
        b.output(y1, dims: [nil, 6])
        b.output(y2, dims: [nil, 5])
        let graph = b.graph
        // 32 samples of 8 features: two base values each copied into 4 features plus noise.
        var values: [Float] = []
        for _ in 0..<32 {
            let base = r.floats(2, 0.2, 1)
            for f in 0..<8 { values.append(base[f / 4] + r.floats(1, -0.05, 0.05)[0]) }
        }
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [32, 8], values: values)
        let data = try NPYDataset(path: npy)
        let options = QuantizeOptions(weightBits: 4)
        let up = try adaRoundedWeights(graph, data: data, samples: 32, options: options, plan: PlanOptions(threads: 1))
        XCTAssertEqual(up.keys.sorted(), ["fc1", "fc2"])
        /// Σ over samples and outputs of (Σₖ (ŵ − w)·x)², weight of (output o, input k) at `index(o, k)`.
        func error(_ q: [Int8], _ w: [Float], _ scales: [Float], outputs: Int, index: (Int, Int) -> Int) -> Double {
            var e = 0.0
            for n in 0..<32 {
                for o in 0..<outputs {
                    var d = 0.0
                    for k in 0..<8 { d += (Double(q[index(o, k)]) * Double(scales[o]) - Double(w[index(o, k)])) * Double(values[n * 8 + k]) }
                    e += d * d
                }
            }
            return e
        }
        let (near1, s1) = WeightQuantizer.quantize(w1, shape: [6, 8], axis: 0, perChannel: true, qmax: 7, clipping: true)
        let ada1 = WeightQuantizer.codes(w1, shape: [6, 8], axis: 0, scales: s1, qmax: 7, roundedUp: try XCTUnwrap(up["fc1"]))
        let e1 = (ada: error(ada1, w1, s1, outputs: 6) { $0 * 8 + $1 }, nearest: error(near1, w1, s1, outputs: 6) { $0 * 8 + $1 })
        XCTAssertLessThan(e1.ada, 0.7 * e1.nearest, "fc1: AdaRound \(e1.ada) vs nearest \(e1.nearest)")
        // fc2 stores B as [K = 8, N = 5]: output channel n is column n (axis 1).
        let (near2, s2) = WeightQuantizer.quantize(w2, shape: [8, 5], axis: 1, perChannel: true, qmax: 7, clipping: true)
        let up2 = try XCTUnwrap(up["fc2"])
        XCTAssertEqual(up2.count, 40)
        let ada2 = WeightQuantizer.codes(w2, shape: [8, 5], axis: 1, scales: s2, qmax: 7, roundedUp: up2)
        let e2 = (ada: error(ada2, w2, s2, outputs: 5) { $1 * 5 + $0 }, nearest: error(near2, w2, s2, outputs: 5) { $1 * 5 + $0 })
        XCTAssertLessThan(e2.ada, 0.7 * e2.nearest, "fc2: AdaRound \(e2.ada) vs nearest \(e2.nearest)")

        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        config.quantize = options
        config.weightRounding = .adaround
        config.adaRound.samples = 32
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(graph, calibrationData: data, config: config)
        XCTAssertEqual(q.roundedUp?.keys.sorted(), ["fc1", "fc2"])
        XCTAssertEqual(q.roundedUp?["fc2"], up2)
        XCTAssertEqual(q.qdq.initializers["w1_quantized"]?.data, .int8(ada1), "fc1's QDQ weights are AdaRound's codes")
        XCTAssertEqual(q.qdq.initializers["w2_quantized"]?.data, .int8(ada2), "fc2's QDQ weights are AdaRound's codes")
        config.plan = PlanOptions(threads: 2)
        XCTAssertEqual(try quantizeModel(graph, calibrationData: data, config: config).roundedUp, q.roundedUp, "threads changed the rounding")
    }

    func testRoundingFlagsRoundTripAndRoundUpWhereTheNearestCodeDoes() {
        var r = TestRandom(seed: 8)
        for count in [0, 1, 7, 8, 9, 63, 1000] {
            let flags = (0..<count).map { _ in r.bool() }
            XCTAssertEqual(RoundingFlags.decode(RoundingFlags.encode(flags), count: count), flags)
            XCTAssertNil(RoundingFlags.decode(RoundingFlags.encode(flags), count: count + 9), "a wrong count is refused")
        }
        let w = r.floats(200, -2, 2), scales: [Float] = [0.01, 0.02]
        let nearest = WeightQuantizer.codes(w, shape: [2, 100], axis: 0, scales: scales, qmax: 127)
        let up = w.enumerated().map { i, v in Float(nearest[i]) > (v / scales[i / 100]).rounded(.down) }
        XCTAssertEqual(WeightQuantizer.codes(w, shape: [2, 100], axis: 0, scales: scales, qmax: 127, roundedUp: up), nearest)
    }
}

/// The CPU-independent exp, log, pow and cos AdaRound uses: within a few ulps of libm's.
final class DeterministicMathTests: XCTestCase {
    func testCloseToLibm() {
        var r = TestRandom(seed: 99)
        for x in r.floats(2000, -87, 87) + [0, -0, 1, -1, 88, -88] {
            let e = Foundation.exp(x)
            XCTAssertEqual(DeterministicMath.exp(x), e, accuracy: 4e-7 * e, "exp(\(x))")
        }
        XCTAssertEqual(DeterministicMath.exp(89), .infinity)
        XCTAssertEqual(DeterministicMath.exp(-89), 0)
        XCTAssertTrue(DeterministicMath.exp(.nan).isNaN)
        for x in r.floats(2000, 1e-6, 1) + r.floats(2000, 1, 1e6) + [1, 2, 0.5, .leastNormalMagnitude, .greatestFiniteMagnitude] {
            let l = Foundation.log(x)
            XCTAssertEqual(DeterministicMath.log(x), l, accuracy: 2e-7 * max(abs(l), 1), "log(\(x))")
        }
        XCTAssertEqual(DeterministicMath.log(0), -.infinity)
        XCTAssertTrue(DeterministicMath.log(-1).isNaN)
        for (x, p) in zip(r.floats(500, 0.001, 1), r.floats(500, 1, 19)) {
            let v = Foundation.pow(x, p)
            XCTAssertEqual(DeterministicMath.pow(x, p), v, accuracy: 2e-5 * v + 1e-30, "pow(\(x), \(p))")
        }
        for x in stride(from: 0.0, through: Double.pi, by: 0.01) {
            XCTAssertEqual(DeterministicMath.cos(x), Foundation.cos(x), accuracy: 1e-14, "cos(\(x))")
        }
    }
}
