import Foundation
import OctetTestSupport
import XCTest

/// ConvTranspose of a quantized tensor with int8 weights (per output channel, axis 1) runs its
/// GEMM on the integer convolution kernels: on every path the outputs equal the plain-Swift
/// reference bit for bit, and they match the FP32 executor running the same layer on the
/// dequantized input and weights to within one code (a float sum that lands next to a rounding
/// tie), for strides, pads, output padding, dilation and groups.
final class Int8ConvTransposeTests: XCTestCase {
    struct Case { var name: String; var window: Window2D; var group: Int; var outputPadding: [Int]; var cout: Int }

    static let cases = [
        Case(name: "2x2 stride 2 (a detector's upsampling)", window: Window2D(kernel: [2, 2], strides: [2, 2]), group: 1, outputPadding: [0, 0], cout: 5),
        Case(name: "3x3 stride 2, pads, output padding", window: Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), group: 1,
             outputPadding: [1, 1], cout: 3),
        Case(name: "3x3 dilation 2, two groups", window: Window2D(kernel: [3, 3], dilations: [2, 2], pads: [2, 1, 2, 1]), group: 2,
             outputPadding: [0, 0], cout: 6),
    ]

    func testConvTransposeRunsOnTheIntegerKernels() throws {
        let cin = 4, dims = [2, cin, 5, 6]
        let sx: Float = 0.03, zx: UInt8 = 90, sy: Float = 0.05, zy: UInt8 = 120
        var r = TestRandom(seed: 31)
        let xCodes = (0..<dims.reduce(1, *)).map { _ in r.int(0...255) }
        let x = try Tensor(shape: Shape(dims), floats: xCodes.map { Float($0 - Int(zx)) * sx })
        for c in Self.cases {
            let cog = c.cout / c.group
            let wShape = [cin, cog, c.window.kernel[0], c.window.kernel[1]]
            let wCodes = (0..<wShape.reduce(1, *)).map { i in i == 0 ? -128 : (i == 1 ? 127 : r.int(-127...127)) }
            let wScales = (0..<cog).map { _ in Float(r.int(1...9)) * 0.004 }
            let taps = wShape[2] * wShape[3]
            let realW = wCodes.indices.map { Float(wCodes[$0]) * wScales[($0 / taps) % cog] }
            let bScales = (0..<c.cout).map { sx * wScales[$0 % cog] }
            let bCodes = (0..<c.cout).map { _ in r.int(-2000...2000) }
            let attrs = ConvTransposeAttributes(window: c.window, group: c.group, outputPadding: c.outputPadding)

            // The FP32 reference: the same layer on real values.
            var fb = GraphBuilder(name: "fp32")
            let fy = fb.add(.convTranspose(attrs), [fb.input("x", dims: [nil, cin, 5, 6]), fb.constant("w", try Tensor(shape: Shape(wShape), floats: realW)),
                                                    fb.constant("b", try Tensor(shape: [c.cout], floats: bCodes.indices.map { Float(bCodes[$0]) * bScales[$0] }))])
            fb.output(fy, dims: [nil, c.cout, nil, nil])
            let reference = try XCTUnwrap(try ExecutionPlan(graph: fb.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["x": x])[fy])

            var b = GraphBuilder(name: "int8")
            func qdq(_ v: String, _ s: Float, _ z: UInt8) throws -> String {
                let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
                return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
            }
            let w = b.add(.dequantizeLinear(axis: 1), [b.constant("wq", try Tensor(shape: Shape(wShape), data: .int8(wCodes.map { Int8($0) }))),
                                                      b.constant("ws", try Tensor(shape: [cog], floats: wScales)),
                                                      b.constant("wz", try Tensor(shape: [cog], data: .int8(Array(repeating: 0, count: cog))))])
            let bias = b.add(.dequantizeLinear(axis: 0), [b.constant("bq", try Tensor(shape: [c.cout], data: .int32(bCodes.map { Int32($0) }))),
                                                         b.constant("bs", try Tensor(shape: [c.cout], floats: bScales)),
                                                         b.constant("bz", try Tensor(shape: [c.cout], data: .int32(Array(repeating: 0, count: c.cout))))])
            let y = try qdq(b.add(.convTranspose(attrs), [try qdq(b.input("x", dims: [nil, cin, 5, 6]), sx, zx), w, bias]), sy, zy)
            b.output(y, dims: [nil, c.cout, nil, nil])

            let expected = try XCTUnwrap(reference.floats).map { Int((($0 / sy).rounded(.toNearestOrEven) + Float(zy)).clamped(0, 255)) }
            var swift: [Float]? = nil
            for isa in [nil] + ISA.supported.map(Optional.some) {
                let label = "\(c.name) on \(isa?.rawValue ?? "swift")"
                let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
                let got = try XCTUnwrap(try plan.run(["x": x])[y], label)
                XCTAssertEqual(got.shape, reference.shape, label)
                let values = try XCTUnwrap(got.floats)
                if let swift { XCTAssertEqual(values, swift, "\(label): not the Swift reference's outputs") } else { swift = values }
                let codes = values.map { Int(($0 / sy).rounded()) + Int(zy) }
                let off = zip(codes, expected).filter { $0 != $1 }
                XCTAssertLessThanOrEqual(zip(codes, expected).map { abs($0 - $1) }.max() ?? 0, 1, label)
                XCTAssertLessThan(Double(off.count), 0.01 * Double(codes.count), "\(label): \(off.count) codes off by one")
                let steps = plan.makeProfile().labels
                XCTAssertEqual(steps.filter { $0.contains("island") }, [], "\(label): \(steps)")
                XCTAssertEqual(steps.filter { $0.hasPrefix("convtranspose scatter") }.count, 1, "\(label): \(steps)")
                XCTAssertEqual(steps.filter { $0.hasPrefix("conv ") && $0.contains(isa.map { "[\($0.rawValue)" } ?? "(swift)") }.count, 1, "\(label): \(steps)")
            }
        }
    }
}

private extension Float {
    func clamped(_ lo: Float, _ hi: Float) -> Float { Swift.min(Swift.max(self, lo), hi) }
}
