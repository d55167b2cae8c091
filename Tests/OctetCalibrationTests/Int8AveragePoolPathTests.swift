import Foundation
import OctetTestSupport
import XCTest

/// The INT8 average pools on every kernel path give the codes of the Swift loop (the
/// specification): windows with and without padding (either count), strides, global pools over
/// maps of more pixels than the sum kernel's 256-pixel u16 blocks, channel counts that are no
/// multiple of 16 or 32, and inputs at the codes' extremes.
final class Int8AveragePoolPathTests: XCTestCase {
    func testAveragePoolsOnEveryPathGiveTheSwiftLoopsCodes() throws {
        var r = TestRandom(seed: 11)
        for (channels, h, w) in [(1, 5, 7), (17, 9, 6), (37, 23, 19), (70, 17, 17), (33, 3, 130)] {
            for extreme in [false, true] {
                // Extreme: every input far above the scale's range, so every code is 255.
                let x = extreme ? Tensor.filled([2, channels, h, w], 1e4) : r.tensor([2, channels, h, w], -2, 3)
                var b = GraphBuilder(name: "pools")
                func qdq(_ v: String, _ s: Float, _ z: UInt8) throws -> String {
                    let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
                    return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
                }
                let input = try qdq(b.input("x", dims: [nil, channels, h, w]), 0.02, 100)
                var outputs: [String] = []
                outputs.append(try qdq(b.add(.globalAveragePool, [input]), 0.011, 90))
                outputs.append(try qdq(b.add(.averagePool(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), ceilMode: false,
                                                          countIncludePad: false), [input]), 0.015, 70))
                outputs.append(try qdq(b.add(.averagePool(Window2D(kernel: [2, 3], strides: [1, 2], pads: [0, 1, 1, 0]), ceilMode: false,
                                                          countIncludePad: true), [input]), 0.013, 60))
                outputs.append(try qdq(b.add(.averagePool(Window2D(kernel: [min(h, 3), w]), ceilMode: false, countIncludePad: false), [input]),
                                       0.012, 50))
                for o in outputs { b.output(o, dims: [nil, channels, nil, nil]) }
                let graph = b.graph
                let reference = try Int8Plan(graph: graph, threads: 1, isa: nil).run(["x": x])
                for isa in ISA.supported {
                    let got = try Int8Plan(graph: graph, threads: 2, isa: isa).run(["x": x])
                    for o in outputs {
                        let label = "\(isa) \(channels)x\(h)x\(w) extreme=\(extreme) \(o)"
                        XCTAssertEqual(got[o]?.floats, try XCTUnwrap(reference[o]?.floats, label), label)
                    }
                }
            }
        }
    }

    /// The multiplier is ONNX Runtime's `s_x / (s_y · Float(n))`. A real case (the squeeze of
    /// features.4 in ONNX Runtime's uint8 QDQ file of tv_mobilenet_v3_small_bncal): 14 × 14 codes
    /// (scale 0.039020624, zero point 10) summing to 2399 above the zero point, output scale
    /// 0.007894289, zero point 35. With ONNX Runtime's multiplier the mean is 60.500004 output
    /// steps (code 96, what ONNX Runtime writes); with the correctly rounded one it is 60.5 (95).
    func testTheGlobalPoolRoundsAsONNXRuntimesQLinearGlobalAveragePool() throws {
        XCTAssertEqual(Float(2399) * Int8Arithmetic.averageMultiplier(inputScale: 0.039020624, outputScale: 0.007894289, taps: 196), 60.500004)
        var b = GraphBuilder(name: "squeeze")
        func qdq(_ v: String, _ s: Float, _ z: UInt8) throws -> String {
            let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
            return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
        }
        let channels = 20
        let input = try qdq(b.input("x", dims: [1, channels, 14, 14]), 0.039020624, 10)
        let output = try qdq(b.add(.globalAveragePool, [input]), 0.007894289, 35)
        b.output(output, dims: [1, channels, 1, 1])
        // 47 codes of 23 and 149 of 22: 4359 in all, 2399 above 196 zero points of 10.
        let codes = (0..<196).map { $0 < 47 ? 23 : 22 }
        let x = try Tensor(shape: [1, channels, 14, 14],
                           floats: (0..<channels).flatMap { _ in codes.map { Float($0 - 10) * 0.039020624 } })
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let got = try Int8Plan(graph: b.graph, threads: 1, isa: isa).run(["x": x])
            let expected = Float(96 - 35) * 0.007894289
            XCTAssertEqual(try XCTUnwrap(got[output]?.floats), [Float](repeating: expected, count: channels), "\(isa.map(\.description) ?? "swift")")
        }
    }

    /// A global pool over 3000 × 3000 pixels of code 255 with zero point 0: the sum, 2.3
    /// billion, does not fit Int32 (a wrapping sum is still right when the sum less the zero
    /// points fits), and the pool still gives the mean on every path (a wrapped sum gives code 0).
    func testGlobalPoolsOverMoreThan8MillionPixelsDoNotWrap() throws {
        let side = 3000
        var b = GraphBuilder(name: "wide")
        func qdq(_ v: String, _ s: Float, _ z: UInt8) throws -> String {
            let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
            return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
        }
        let input = try qdq(b.input("x", dims: [1, 1, side, side]), 0.02, 0)
        let output = try qdq(b.add(.globalAveragePool, [input]), 0.05, 0)
        b.output(output, dims: [1, 1, 1, 1])
        // Every code 255 with zero point 0: the mean is 255 · 0.02 = 5.1, code 102 at scale 0.05.
        let x = Tensor.filled([1, 1, side, side], 1e4)
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let got = try Int8Plan(graph: b.graph, threads: 1, isa: isa).run(["x": x])
            XCTAssertEqual(got[output]?.floats, [102 * 0.05], "\(isa.map { "\($0)" } ?? "Swift loop")")
        }
    }
}
