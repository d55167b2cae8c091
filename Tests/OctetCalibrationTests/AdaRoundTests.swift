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
