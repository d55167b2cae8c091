import Foundation
import OctetTestSupport
import XCTest

/// Data movement of a quantized activation runs on its u8 codes (no FP32 island): Transpose,
/// Slice, Split, Gather, Reshape, Flatten, Squeeze, Unsqueeze and nearest Resize, alone or
/// chained (a channel shuffle is one copy), with or without ONNX Runtime's QuantizeLinear at
/// the input's parameters after the op. Moving elements commutes with dequantization, so the
/// outputs must equal, bit for bit, the FP32 executor running the same ops on the dequantized
/// input, on every path.
final class Int8DataMovementTests: XCTestCase {
    struct Case {
        var name: String
        /// Adds the ops after the dequantized input `x`; returns the outputs with their dims (batch nil).
        var build: (inout GraphBuilder, String) -> [(String, [Int?])]
        /// Labels the INT8 plan must show (one per data-movement copy that is not free).
        var copies: Int
    }

    static func ints(_ b: inout GraphBuilder, _ v: [Int]) -> String {
        b.constant("i", try! Tensor(shape: [v.count], data: .int64(v.map(Int64.init))))
    }

    static var cases: [Case] { [
        Case(name: "channel shuffle (Reshape, Transpose, Reshape)", build: { b, x in
            let r = b.add(.reshape(allowZero: false), [x, ints(&b, [-1, 2, 3, 5, 4])])
            let t = b.add(.transpose(perm: [0, 2, 1, 3, 4]), [r])
            return [(b.add(.reshape(allowZero: false), [t, ints(&b, [-1, 6, 5, 4])]), [nil, 6, 5, 4])]
        }, copies: 1),
        Case(name: "Slice of channels with a step, and of width backwards", build: { b, x in
            let s1 = b.add(.slice, [x, ints(&b, [1]), ints(&b, [5]), ints(&b, [1]), ints(&b, [2])])
            let s2 = b.add(.slice, [x, ints(&b, [-1]), ints(&b, [Int(Int32.min)]), ints(&b, [3]), ints(&b, [-1])])
            return [(s1, [nil, 2, 5, 4]), (s2, [nil, 6, 5, 4])]
        }, copies: 2),
        Case(name: "Split of channels", build: { b, x in
            let first = b.add(.split(axis: 1, outputs: 2), [x, ints(&b, [2, 4])], outputs: 2)
            let second = b.graph.nodes.last!.outputs[1]
            return [(first, [nil, 2, 5, 4]), (second, [nil, 4, 5, 4])]
        }, copies: 2),
        Case(name: "Gather of a scalar index and of a run of indices", build: { b, x in
            let g1 = b.add(.gather(axis: 2), [x, b.constant("k", try! Tensor(shape: [], data: .int64([3])))])
            let g2 = b.add(.gather(axis: 1), [x, ints(&b, [4, 2, 0])])
            return [(g1, [nil, 6, 4]), (g2, [nil, 3, 5, 4])]
        }, copies: 2),
        Case(name: "Transpose to channels last, Flatten, Unsqueeze, Squeeze", build: { b, x in
            let t = b.add(.transpose(perm: [0, 2, 3, 1]), [x])
            let f = b.add(.flatten(axis: 1), [x])
            let u = b.add(.unsqueeze, [f, ints(&b, [2])])
            let s = b.add(.squeeze, [u, ints(&b, [2])])
            return [(t, [nil, 5, 4, 6]), (s, [nil, 120])]
        }, copies: 2),
        Case(name: "nearest Resize by 2 and by fractional scales", build: { b, x in
            let scales = b.constant("scales", try! Tensor(shape: [4], floats: [1, 1, 2, 2]))
            let up = b.add(.resize(ResizeAttributes(mode: .nearest, coordinateTransform: .asymmetric, nearestMode: .floor)), [x, "", scales])
            let fractional = b.constant("scales", try! Tensor(shape: [4], floats: [1, 1, 1.4, 2.25]))
            let sized = b.add(.resize(ResizeAttributes(mode: .nearest, coordinateTransform: .halfPixel, nearestMode: .roundPreferFloor)),
                              [x, "", fractional])
            return [(up, [nil, 6, 10, 8]), (sized, [nil, 6, 7, 9])]
        }, copies: 2),
    ] }

    func testDataMovementOfQuantizedTensorsRunsOnCodes() throws {
        let dims = [2, 6, 5, 4]
        let scale: Float = 0.04, zero: UInt8 = 100
        var r = TestRandom(seed: 21)
        let codes = (0..<dims.reduce(1, *)).map { _ in r.int(0...255) }
        let x = try Tensor(shape: Shape(dims), floats: codes.map { Float($0 - Int(zero)) * scale })
        for c in Self.cases {
            // The FP32 reference: the same ops on the dequantized input.
            var fb = GraphBuilder(name: "fp32")
            let fOuts = c.build(&fb, fb.input("x", dims: [nil, 6, 5, 4]))
            for (o, d) in fOuts { fb.output(o, dims: d) }
            let expected = try ExecutionPlan(graph: fb.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["x": x])
            for requantizedAfter in [false, true] {
                var b = GraphBuilder(name: "int8")
                let s = b.constant("s", Tensor.filled([], scale)), z = b.constant("z", try Tensor(shape: [], data: .uint8([zero])))
                let xq = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [b.input("x", dims: [nil, 6, 5, 4]), s, z]), s, z])
                var outs = c.build(&b, xq)
                if requantizedAfter {
                    // ONNX Runtime's form: Q at the input's parameters after the op, then DQ.
                    outs = outs.map { o, d in (b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [o, s, z]), s, z]), d) }
                }
                for (o, d) in outs { b.output(o, dims: d) }
                for isa in [nil] + ISA.supported.map(Optional.some) {
                    let label = "\(c.name)\(requantizedAfter ? " + Q/DQ" : "") on \(isa?.rawValue ?? "swift")"
                    let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
                    let got = try plan.run(["x": x])
                    for ((o, _), (fo, _)) in zip(outs, fOuts) {
                        XCTAssertEqual(got[o]?.shape, expected[fo]?.shape, label)
                        XCTAssertEqual(got[o]?.floats, expected[fo]?.floats, label)
                    }
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0 == "requantize" }, [], "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.hasSuffix(" u8") || $0.hasPrefix("resize nearest u8") }.count, c.copies, "\(label): \(steps)")
                }
            }
        }
    }

    /// A linear Resize of a quantized activation (a feature pyramid's upsampling) runs on its codes
    /// too ("resize linear u8", no FP32 island, no requantization), with or without ONNX Runtime's
    /// QuantizeLinear at the input's parameters after it: up and down, for each coordinate mode;
    /// every path gives the same bytes, each output within one code of the FP32 op on the
    /// dequantized input (the kernel's weights are rounded to 1/128).
    func testLinearResizeOfQuantizedTensorsRunsOnCodes() throws {
        let dims = [2, 6, 5, 4]
        let scale: Float = 0.04, zero: UInt8 = 100
        var r = TestRandom(seed: 22)
        let codes = (0..<dims.reduce(1, *)).map { _ in r.int(0...255) }
        let x = try Tensor(shape: Shape(dims), floats: codes.map { Float($0 - Int(zero)) * scale })
        let cases: [(ResizeAttributes.CoordinateTransform, [Float], [Int])] = [
            (.halfPixel, [1, 1, 2, 2], [10, 8]), (.alignCorners, [1, 1, 2, 2], [10, 8]), (.asymmetric, [1, 1, 1.4, 2.25], [7, 9]),
            (.pytorchHalfPixel, [1, 1, 0.6, 0.5], [3, 2]),
        ]
        for (transform, scales, outHW) in cases {
            let attrs = ResizeAttributes(mode: .linear, coordinateTransform: transform, nearestMode: .floor)
            var fb = GraphBuilder(name: "fp32")
            let fy = fb.add(.resize(attrs), [fb.input("x", dims: [nil, 6, 5, 4]), "", fb.constant("scales", try Tensor(shape: [4], floats: scales))])
            fb.output(fy, dims: [nil, 6] + outHW.map(Optional.some))
            let expected = try XCTUnwrap(try ExecutionPlan(graph: fb.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["x": x])[fy]?.floats)
            for requantizedAfter in [false, true] {
                var b = GraphBuilder(name: "int8")
                let s = b.constant("s", Tensor.filled([], scale)), z = b.constant("z", try Tensor(shape: [], data: .uint8([zero])))
                let xq = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [b.input("x", dims: [nil, 6, 5, 4]), s, z]), s, z])
                var y = b.add(.resize(attrs), [xq, "", b.constant("scales", try Tensor(shape: [4], floats: scales))])
                if requantizedAfter { y = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [y, s, z]), s, z]) }
                b.output(y, dims: [nil, 6] + outHW.map(Optional.some))
                var reference: [Float]?
                for isa in [nil] + ISA.supported.map(Optional.some) {
                    let label = "\(transform) \(scales)\(requantizedAfter ? " + Q/DQ" : "") on \(isa?.rawValue ?? "swift")"
                    let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
                    let got = try XCTUnwrap(try plan.run(["x": x])[y], label)
                    XCTAssertEqual(got.shape, Shape([2, 6] + outHW), label)
                    let values = try XCTUnwrap(got.floats, label)
                    if let reference { XCTAssertEqual(values, reference, "\(label): differs from the scalar kernel") } else { reference = values }
                    let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, scale * 1.001, "\(label): more than one code from FP32")
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0 == "requantize" }, [], "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.hasPrefix("resize linear u8") }.count, 1, "\(label): \(steps)")
                }
            }
        }
    }
}
