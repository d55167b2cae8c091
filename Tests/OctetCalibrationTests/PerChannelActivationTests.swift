import Foundation
import OctetTestSupport
import XCTest

/// NNCF's QDQ files quantize the input of each depthwise convolution per channel (a QuantizeLinear
/// with one scale per channel, axis 1), and leave a BatchNormalization after a quantized
/// convolution in place. Octet runs both on the integer kernels: the per-channel codes are
/// written by the convolution before them with one multiplier per channel, read by the depthwise
/// convolution with the input scale in each channel's multiplier, and the BatchNormalization is
/// folded into the quantized weights' scales (`FoldBatchNormIntoQuantizedConv`). On every path the
/// outputs equal the Swift reference bit for bit, and they match the file's meaning (each
/// node by its ONNX definition, in float) to within one code. A per-channel activation Octet
/// cannot run exactly is refused before any work, naming the node and the cause.
final class PerChannelActivationTests: XCTestCase {
    let dims = [2, 5, 7, 9], mid = 19
    let sx: Float = 0.02, zx: UInt8 = 100, sy: Float = 0.03, zy: UInt8 = 128

    struct Layers {
        var w1: [Float], s1: [Float], w1Codes: [Int8], b1: [Float]
        var gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
        var w2: [Float], s2: [Float], w2Codes: [Int8], b2: [Float]
    }

    func layers(_ r: inout TestRandom) -> Layers {
        let cin = dims[1]
        let s1 = (0..<mid).map { _ in Float(r.int(1...9)) * 0.002 }
        let w1Codes = (0..<mid * cin).map { i in Int8(i == 0 ? -127 : r.int(-127...127)) }
        let s2 = (0..<mid).map { _ in Float(r.int(1...9)) * 0.003 }
        let w2Codes = (0..<mid * 9).map { i in Int8(i == 1 ? -128 : (i == 2 ? 127 : r.int(-127...127))) }
        return Layers(w1: w1Codes.indices.map { Float(w1Codes[$0]) * s1[$0 / cin] }, s1: s1, w1Codes: w1Codes,
                      b1: (0..<mid).map { _ in Float(r.int(-50...50)) * 0.01 },
                      // One channel with a negative scale (its codes are negated when folded).
                      gamma: (0..<mid).map { $0 == 3 ? -0.7 : Float(r.int(5...15)) * 0.1 }, beta: (0..<mid).map { _ in Float(r.int(-20...40)) * 0.05 },
                      mean: (0..<mid).map { _ in Float(r.int(-10...10)) * 0.05 }, variance: (0..<mid).map { _ in Float(r.int(1...20)) * 0.1 },
                      w2: w2Codes.indices.map { Float(w2Codes[$0]) * s2[$0 / 9] }, s2: s2, w2Codes: w2Codes,
                      b2: (0..<mid).map { _ in Float(r.int(-50...50)) * 0.01 })
    }

    let window = Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1])

    /// The INT8 graph: x → QDQ → Conv 1×1 (int8 weights) [→ BatchNormalization] → Clip(0, 6) →
    /// per-channel QDQ (`scales`, zero points `zeros`) → depthwise Conv 3×3/2 (int8 weights) →
    /// QDQ → y. `dense`: the second convolution reads all channels instead (not depthwise).
    func int8Graph(_ l: Layers, batchNorm: Bool, scales: [Float], zeros: [UInt8], dense: Bool = false,
                   activation: Op = .clip(min: 0, max: 6), midScale: Float? = nil) throws -> (Graph, String) {
        var b = GraphBuilder(name: "nncf-like")
        func qdq(_ v: String, _ s: [Float], _ z: [UInt8]) throws -> String {
            let sn = b.constant("s", s.count == 1 ? Tensor.filled([], s[0]) : try Tensor(shape: [s.count], floats: s))
            let zn = b.constant("z", try Tensor(shape: s.count == 1 ? [] : [z.count], data: .uint8(z)))
            return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
        }
        func weights(_ codes: [Int8], _ shape: [Int], _ scales: [Float]) throws -> String {
            b.add(.dequantizeLinear(axis: 0), [b.constant("wq", try Tensor(shape: Shape(shape), data: .int8(codes))),
                                               b.constant("ws", try Tensor(shape: [scales.count], floats: scales)),
                                               b.constant("wz", try Tensor(shape: [scales.count], data: .int8(Array(repeating: 0, count: scales.count))))])
        }
        let x = try qdq(b.input("x", dims: [nil, dims[1], dims[2], dims[3]]), [sx], [zx])
        var a = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [x, try weights(l.w1Codes, [mid, dims[1], 1, 1], l.s1),
                                                                   b.constant("b1", try Tensor(shape: [mid], floats: l.b1))])
        if batchNorm {
            a = b.add(.batchNormalization(epsilon: 1e-5), [a, b.constant("g", try Tensor(shape: [mid], floats: l.gamma)),
                                                            b.constant("be", try Tensor(shape: [mid], floats: l.beta)),
                                                            b.constant("m", try Tensor(shape: [mid], floats: l.mean)),
                                                            b.constant("v", try Tensor(shape: [mid], floats: l.variance))])
        }
        // With `midScale`, the convolution's output is quantized per tensor first, so the
        // activation becomes tables (one per channel, for the per-channel codes after it).
        if let midScale { a = try qdq(a, [midScale], [128]) }
        let q = try qdq(b.add(activation, [a]), scales, zeros)
        let y: String
        if dense {
            y = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [q, try weights((0..<mid * mid).map { Int8($0 % 7 - 3) }, [mid, mid, 1, 1], l.s1)])
        } else {
            y = b.add(.conv(window, group: mid), [q, try weights(l.w2Codes, [mid, 1, 3, 3], l.s2), b.constant("b2", try Tensor(shape: [mid], floats: l.b2))])
        }
        let out = try qdq(y, [sy], [zy])
        b.output(out, dims: [nil, mid, nil, nil])
        return (b.graph, out)
    }

    /// The file's meaning, node by node in float: the first layer on the FP32 executor, the
    /// per-channel QuantizeLinear/DequantizeLinear by their definition, the depthwise layer on the
    /// FP32 executor, and the output codes.
    func referenceCodes(_ l: Layers, batchNorm: Bool, x: Tensor, scales: [Float], activation: Op = .clip(min: 0, max: 6),
                        midScale: Float? = nil) throws -> (first: [Float], codes: [Int]) {
        var f = GraphBuilder(name: "first")
        var a = f.add(.conv(Window2D(kernel: [1, 1]), group: 1), [f.input("x", dims: [nil, dims[1], dims[2], dims[3]]),
                                                                   f.constant("w", try Tensor(shape: [mid, dims[1], 1, 1], floats: l.w1)),
                                                                   f.constant("b", try Tensor(shape: [mid], floats: l.b1))])
        if batchNorm {
            a = f.add(.batchNormalization(epsilon: 1e-5), [a, f.constant("g", try Tensor(shape: [mid], floats: l.gamma)),
                                                            f.constant("be", try Tensor(shape: [mid], floats: l.beta)),
                                                            f.constant("m", try Tensor(shape: [mid], floats: l.mean)),
                                                            f.constant("v", try Tensor(shape: [mid], floats: l.variance))])
        }
        f.output(a, dims: [nil, mid, dims[2], dims[3]])
        // x as its codes' real values (the first QDQ is then exact).
        var convolved = try XCTUnwrap(try ExecutionPlan(graph: f.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["x": x])[a])
        if let midScale {
            let v = try XCTUnwrap(convolved.floats)
            convolved = try Tensor(shape: convolved.shape, floats: v.map { (min(max(($0 / midScale).rounded(.toNearestOrEven) + 128, 0), 255) - 128) * midScale })
        }
        var g = GraphBuilder(name: "activation")
        let activated = g.add(activation, [g.input("a", dims: [nil, mid, dims[2], dims[3]])])
        g.output(activated, dims: [nil, mid, dims[2], dims[3]])
        let first = try XCTUnwrap(try ExecutionPlan(graph: g.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["a": convolved])[activated])
        let plane = dims[2] * dims[3]
        let values = try XCTUnwrap(first.floats)
        let requantized = values.indices.map { i -> Float in
            let s = scales[(i / plane) % mid]
            return min(max((values[i] / s).rounded(.toNearestOrEven), 0), 255) * s
        }
        var d = GraphBuilder(name: "depthwise")
        let y = d.add(.conv(window, group: mid), [d.input("a", dims: [nil, mid, dims[2], dims[3]]),
                                                   d.constant("w", try Tensor(shape: [mid, 1, 3, 3], floats: l.w2)),
                                                   d.constant("b", try Tensor(shape: [mid], floats: l.b2))])
        d.output(y, dims: [nil, mid, nil, nil])
        let out = try XCTUnwrap(try ExecutionPlan(graph: d.graph, options: PlanOptions(isa: .scalar, threads: 1))
            .run(["a": try Tensor(shape: first.shape, floats: requantized)])[y])
        let ys = try XCTUnwrap(out.floats)
        return (values, ys.map { v -> Int in Int(min(max((v / sy).rounded(.toNearestOrEven) + Float(zy), 0), 255)) })
    }

    /// Clip(0, 6) fuses into the first convolution, which then writes the per-channel codes;
    /// HardSwish (an activation NNCF does not quantize before) runs in float in the convolution's
    /// epilogue, which quantizes per channel (`QuantizeKernel.quantizeChannels`) with the codes the
    /// separate steps give; HardSwish on codes becomes one table per channel.
    func testPerChannelDepthwiseInputsAndAFoldedBatchNormRunOnTheIntegerKernels() throws {
        var r = TestRandom(seed: 41)
        let l = layers(&r)
        let x = try Tensor(shape: Shape(dims), floats: (0..<dims.reduce(1, *)).map { _ in Float(r.int(0...255) - Int(zx)) * sx })
        let cases: [(batchNorm: Bool, activation: Op, midScale: Float?)] = [
            (false, .clip(min: 0, max: 6), nil), (true, .clip(min: 0, max: 6), nil), (true, .unary(.hardSwish), nil), (false, .unary(.hardSwish), 0.04),
        ]
        for (batchNorm, activation, midScale) in cases {
            // Each channel's scale from its own range, as NNCF chooses them: they differ by up to ~50×.
            let first = try referenceCodes(l, batchNorm: batchNorm, x: x, scales: Array(repeating: 1, count: mid), activation: activation,
                                           midScale: midScale).first
            let plane = dims[2] * dims[3]
            var ranges = [Float](repeating: 0.05, count: mid)
            for (i, v) in first.enumerated() { ranges[(i / plane) % mid] = max(ranges[(i / plane) % mid], v) }
            let scales = ranges.map { $0 / 255 }
            XCTAssertGreaterThan((scales.max() ?? 0) / (scales.min() ?? 1), 4, "the channels' scales should differ")
            let expected = try referenceCodes(l, batchNorm: batchNorm, x: x, scales: scales, activation: activation, midScale: midScale).codes
            let (graph, y) = try int8Graph(l, batchNorm: batchNorm, scales: scales, zeros: Array(repeating: 0, count: mid),
                                           activation: activation, midScale: midScale)
            var swift: [Float]? = nil
            for isa in [nil] + ISA.supported.map(Optional.some) {
                let label = "\(batchNorm ? "with" : "without") BatchNormalization, \(activation.onnxType)\(midScale == nil ? "" : " on codes"), on \(isa?.rawValue ?? "swift")"
                let plan = try Int8Plan(graph: graph, threads: 2, isa: isa)
                let values = try XCTUnwrap(try plan.run(["x": x])[y]?.floats, label)
                if let swift { XCTAssertEqual(values, swift, "\(label): not the Swift reference's outputs") } else { swift = values }
                let codes = values.map { Int(($0 / sy).rounded()) + Int(zy) }
                XCTAssertEqual(codes.count, expected.count, label)
                XCTAssertLessThanOrEqual(zip(codes, expected).map { abs($0 - $1) }.max() ?? 99, 1, label)
                let off = zip(codes, expected).filter { $0 != $1 }.count
                XCTAssertLessThan(Double(off), 0.02 * Double(codes.count), "\(label): \(off) of \(codes.count) codes off by one")
                let steps = plan.makeProfile().labels
                XCTAssertEqual(steps.filter { $0.hasPrefix("dwconv 3x3/2") }.count, 1, "\(label): \(steps)")
                if midScale != nil {
                    // One table per channel, fused into the convolution that writes the codes.
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0.contains("fp32") || $0 == "quantize per channel" }, [], "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.hasPrefix("conv 1x1") && $0.contains("+ table") }.count, 1, "\(label): \(steps)")
                } else if case .clip = activation {
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0.contains("fp32") || $0 == "quantize per channel" }, [], "\(label): \(steps)")
                } else {
                    // The float HardSwish and the per-channel quantization run in the convolution's
                    // epilogue (`FloatEpilogue`), with the codes of the separate steps.
                    XCTAssertEqual(steps.filter { $0.hasPrefix("conv 1x1") && $0.contains("+ HardSwish (fp32) + quantize") }.count, 1, "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0 == "quantize per channel" }, [], "\(label): \(steps)")
                    let unfused = try Int8Plan(graph: graph, threads: 2, isa: isa, fuseIntoConvolutions: false)
                    XCTAssertEqual(unfused.makeProfile().labels.filter { $0 == "quantize per channel" }.count, 1, label)
                    XCTAssertEqual(try unfused.run(["x": x])[y]?.floats, values, "\(label): fused and unfused differ")
                }
            }
        }
    }

    func testPerChannelActivationsOctetCannotRunExactlyAreRefusedNamingTheCause() throws {
        var r = TestRandom(seed: 42)
        let l = layers(&r)
        let scales = (0..<mid).map { Float($0 + 1) * 0.001 }
        let zeros = Array(repeating: UInt8(0), count: mid)
        func refusal(_ graph: Graph) -> String {
            do {
                _ = try Int8Plan(graph: graph, threads: 1, isa: nil)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let dense = refusal(try int8Graph(l, batchNorm: false, scales: scales, zeros: zeros, dense: true).0)
        XCTAssertTrue(dense.contains("invalid quantization parameters: 19 scales on an activation: read by")
                      && dense.contains("only into depthwise convolutions with quantized weights"), dense)
        var mixed = zeros
        mixed[4] = 3
        let zeroPoints = refusal(try int8Graph(l, batchNorm: false, scales: scales, zeros: mixed).0)
        XCTAssertTrue(zeroPoints.contains("the zero points differ between channels"), zeroPoints)
    }

    /// ONNX reads codes with the DequantizeLinear's own parameters. A file whose DequantizeLinear
    /// differs from the QuantizeLinear that wrote the codes (an edited file) gets that meaning, on
    /// every path, instead of the QuantizeLinear's parameters.
    func testADequantizeLinearReadsCodesWithItsOwnParameters() throws {
        var b = GraphBuilder(name: "mismatched")
        let sa: Float = 0.05, za: UInt8 = 10, sb: Float = 0.2, zb: UInt8 = 30
        let q = b.add(.quantizeLinear(axis: 1), [b.input("x", dims: [nil, 3, 4, 5]), b.constant("sa", Tensor.filled([], sa)),
                                                 b.constant("za", try Tensor(shape: [], data: .uint8([za])))])
        let y = b.add(.dequantizeLinear(axis: 1), [q, b.constant("sb", Tensor.filled([], sb)), b.constant("zb", try Tensor(shape: [], data: .uint8([zb])))])
        b.output(y, dims: [nil, 3, 4, 5])
        var r = TestRandom(seed: 43)
        let values = (0..<120).map { _ in Float(r.int(-300...300)) * 0.01 }
        let x = try Tensor(shape: [2, 3, 4, 5], floats: values)
        let expected = values.map { v -> Float in
            let code = min(max((v / sa).rounded(.toNearestOrEven) + Float(za), 0), 255)
            return (code - Float(zb)) * sb
        }
        for isa in [nil] + ISA.supported.map(Optional.some) {
            XCTAssertEqual(try Int8Plan(graph: b.graph, threads: 1, isa: isa).run(["x": x])[y]?.floats, expected, isa?.rawValue ?? "swift")
        }
    }
}
