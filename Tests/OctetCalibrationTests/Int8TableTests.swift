import Foundation
import OctetTestSupport
import XCTest

/// Element-wise functions of one quantized tensor run as 256-entry tables (`Int8Compiler+Tables`):
/// for every one of the 256 input codes the INT8 plan's output equals the reference
/// `quantize(f(dequantize(code)))`, f by the operators' reference semantics; unsigned and signed
/// output codes; the profile names the table. Against the same function run as an FP32 island
/// (the FP32 kernels, then the quantize step), codes differ by at most one step, rarely.
final class Int8TableTests: XCTestCase {
    /// x [N, 256] → Q(sx, zx) → DQ → `body` → Q(sy, zy) → DQ → "y".
    func model(_ body: (inout GraphBuilder, String) -> String, sx: Float, zx: UInt8, sy: Float, zy: Int, signedOutput: Bool) throws -> Graph {
        var b = GraphBuilder(name: "table")
        let x = b.input("x", dims: [nil, 256])
        let sxName = b.constant("sx", Tensor.filled([], sx)), zxName = b.constant("zx", try Tensor(shape: [], data: .uint8([zx])))
        let xq = b.add(.quantizeLinear(axis: 1), [x, sxName, zxName], name: "qx")
        let xd = b.add(.dequantizeLinear(axis: 1), [xq, sxName, zxName], name: "dqx")
        let f = body(&b, xd)
        let syName = b.constant("sy", Tensor.filled([], sy))
        let zyName = b.constant("zy", signedOutput ? try Tensor(shape: [], data: .int8([Int8(zy)])) : try Tensor(shape: [], data: .uint8([UInt8(zy)])))
        let yq = b.add(.quantizeLinear(axis: 1), [f, syName, zyName], name: "qy")
        let y = b.add(.dequantizeLinear(axis: 1), [yq, syName, zyName], name: "dqy")
        b.output(y, dims: [nil, 256])
        return b.graph
    }

    /// The reference: each code dequantized, `nodes` evaluated in order, quantized, dequantized.
    func reference(_ graph: Graph, sx: Float, zx: Int32, sy: Float, zy: Int32) throws -> [Float] {
        var values: [String: Tensor] = [:]
        let x = try Tensor(shape: [256], floats: (0..<256).map { Float(Int32($0) - zx) * sx })
        let start = try XCTUnwrap(graph.nodes.firstIndex { $0.name == "dqx" }), end = try XCTUnwrap(graph.nodes.firstIndex { $0.name == "qy" })
        values[graph.nodes[start].outputs[0]] = x
        for node in graph.nodes[(start + 1)..<end] {
            let operands = node.inputs.map { values[$0] ?? graph.initializers[$0] }
            let out = try XCTUnwrap(ConstantEvaluator.evaluate(node, inputs: operands, inputShapes: operands.map { $0?.shape ?? [] },
                                                               outputShapes: [[256]]), node.name)
            values[node.outputs[0]] = out[0]
        }
        let f = try XCTUnwrap(values[graph.nodes[end].inputs[0]]?.floats)
        let p = QuantParams(scale: sy, zeroPoint: zy, dtype: .uint8)
        return f.map { Float(Int32(p.quantize($0)) - zy) * sy }
    }

    func testElementwiseFunctionsOfOneTensorRunAsExactTables() throws {
        let cases: [(String, (inout GraphBuilder, String) -> String)] = [
            ("HardSwish", { b, x in b.add(.unary(.hardSwish), [x]) }),
            ("SiLU", { b, x in b.add(.mul, [x, b.add(.unary(.sigmoid), [x])]) }),
            ("HardSwish spelled out", { b, x in
                let three = b.constant("three", Tensor.filled([], 3)), six = b.constant("six", Tensor.filled([], 6))
                let c = b.add(.clip(min: 0, max: 6), [b.add(.add, [x, three])])
                return b.add(.binary(.div), [b.add(.mul, [x, c]), six])
            }),
            ("HardSigmoid", { b, x in b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [x]) }),
            ("LeakyRelu", { b, x in b.add(.unary(.leakyRelu(alpha: 0.1)), [x]) }),
            ("Tanh", { b, x in b.add(.unary(.tanh), [x]) }),
        ]
        let codes = try Tensor(shape: [1, 256], floats: (0..<256).map { Float($0 - 128) * 0.05 })
        for (name, body) in cases {
            for signed in [false, true] {
                let zy = signed ? -3 : 125
                let g = try model(body, sx: 0.05, zx: 128, sy: 0.031, zy: zy, signedOutput: signed)
                let label = "\(name) (\(signed ? "int8" : "uint8") output)"
                let expected = try reference(g, sx: 0.05, zx: 128, sy: 0.031, zy: Int32(zy) + (signed ? 128 : 0))
                for isa in [nil] + ISA.allCases.filter(\.isSupported).map(Optional.some) {
                    let plan = try Int8Plan(graph: g, isa: isa)
                    XCTAssertEqual(try plan.run(["x": codes])[g.outputs[0].name]?.floats, expected, "\(label) on \(isa?.rawValue ?? "swift")")
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.hasPrefix("table: ") }.count, 1, "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.contains("fp32 island") }, [], label)
                }
            }
        }
    }

    /// A Mul of two quantized tensors is no table: it runs as the integer product, of one shape or
    /// with a `[N, C, 1, 1]` gate broadcast over `[N, C, H, W]` (a squeeze-excitation), on every path,
    /// equal to `product((a − za)·(b − zb), sa·sb/sy)` (ONNX Runtime's QLinearMul arithmetic) element by element.
    func testAProductOfTwoQuantizedTensorsRunsAsTheIntegerMul() throws {
        for (xDims, gDims) in [([2, 8, 3, 5], [2, 8, 3, 5]), ([2, 8, 3, 5], [2, 8, 1, 1]), ([2, 19, 2, 3], [2, 19, 1, 1])] {
            for gateFirst in [false, true] {
                var b = GraphBuilder(name: "mul")
                let x = b.input("x", dims: [nil] + xDims.dropFirst().map { Optional($0) }), g = b.input("g", dims: [nil] + gDims.dropFirst().map { Optional($0) })
                let (sx, sg, sy): (Float, Float, Float) = (0.05, 0.01, 0.02)
                let (zx, zg, zy): (UInt8, UInt8, UInt8) = (128, 0, 100)
                func qdq(_ v: String, _ s: Float, _ z: UInt8, _ tag: String) throws -> String {
                    let sn = b.constant("s" + tag, Tensor.filled([], s)), zn = b.constant("z" + tag, try Tensor(shape: [], data: .uint8([z])))
                    return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
                }
                let xd = try qdq(x, sx, zx, "x"), gd = try qdq(g, sg, zg, "g")
                let y = try qdq(b.add(.mul, gateFirst ? [gd, xd] : [xd, gd]), sy, zy, "y")
                b.output(y, dims: [nil] + xDims.dropFirst().map { Optional($0) })
                var r = TestRandom(seed: 5)
                let qx = (0..<xDims.reduce(1, *)).map { _ in Int32(r.int(0...255)) }, qg = (0..<gDims.reduce(1, *)).map { _ in Int32(r.int(0...255)) }
                let feeds = ["x": try Tensor(shape: Shape(xDims), floats: qx.map { Float($0 - Int32(zx)) * sx }),
                             "g": try Tensor(shape: Shape(gDims), floats: qg.map { Float($0 - Int32(zg)) * sg })]
                let m = Int8Arithmetic.multiplier(sx, sg, over: sy)
                let hw = xDims[2] * xDims[3]
                let expected = qx.indices.map { i -> Float in
                    let j = gDims == xDims ? i : i / hw  // [n, c] of element i in NCHW order
                    let code = Int8Arithmetic.product((qx[i] - Int32(zx)) * (qg[j] - Int32(zg)), m, zeroPoint: Int32(zy), lo: 0, hi: 255)
                    return Float(Int32(code) - Int32(zy)) * sy
                }
                for isa in [nil] + ISA.supported.map(Optional.some) {
                    let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
                    let label = "\(xDims) × \(gDims)\(gateFirst ? " gate first" : "") on \(isa?.rawValue ?? "swift")"
                    XCTAssertEqual(try plan.run(feeds)[y]?.floats, expected, label)
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.hasPrefix("mul") }.count, 1, "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.contains("island") || $0.hasPrefix("table") }, [], "\(label): \(steps)")
                }
            }
        }
    }

    /// PRelu with a slope per channel of an NCHW tensor: one table per channel, on every path,
    /// each code equal to quantize(prelu(dequantize(code), slope[c])).
    func testPReluWithPerChannelSlopesRunsAsChannelTables() throws {
        try assertPRelu(slopes: [0.25, -1, 0, 1, 0.013], sx: 0.05, zx: 120, sy: 0.04, zy: 90)
    }

    /// Scales for which the one-product form of the computed PRelu gives code 243 one lower than
    /// the tables (`LeakyCodesKernelTests`): the plan must still give the tables' codes (it
    /// computes in that form only where every code of every channel matches).
    func testPReluWhereTheProductFormDiffersStillGivesTheTableCodes() throws {
        let sx: Float = 0x1.26174cp-3, sy: Float = 0x1.e0cd82p-4
        XCTAssertNotEqual(LeakyCodesKernel(channels: 1, scaleIn: sx, zeroIn: 93, slopes: [0.25], scalesOut: [sy], zeroOut: 22, form: .products)?.tables(),
                          LeakyCodesKernel(channels: 1, scaleIn: sx, zeroIn: 93, slopes: [0.25], scalesOut: [sy], zeroOut: 22)?.tables())
        try assertPRelu(slopes: [0x1.8bd4fp-3, 0.25, -1, 0, 0.013], sx: sx, zx: 93, sy: sy, zy: 22)
    }

    /// A PRelu between QDQ pairs on [2, 5, 16, 16]: image 0 holds every code in every channel,
    /// image 1 random codes.
    private func assertPRelu(slopes: [Float], sx sxValue: Float, zx zxValue: Int32, sy syValue: Float, zy zyValue: Int32) throws {
        var b = GraphBuilder(name: "prelu")
        let x = b.input("x", dims: [nil, 5, 16, 16])
        let sx = b.constant("sx", Tensor.filled([], sxValue)), zx = b.constant("zx", try Tensor(shape: [], data: .uint8([UInt8(zxValue)])))
        let sy = b.constant("sy", Tensor.filled([], syValue)), zy = b.constant("zy", try Tensor(shape: [], data: .uint8([UInt8(zyValue)])))
        let xd = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [x, sx, zx]), sx, zx])
        let slope = b.constant("slope", try Tensor(shape: [5, 1, 1], floats: slopes))
        let y = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [b.add(.binary(.prelu), [xd, slope]), sy, zy]), sy, zy])
        b.output(y, dims: [nil, 5, 16, 16])
        var r = TestRandom(seed: 9)
        let codes = (0..<(5 * 256)).map { Int32($0 % 256) } + (0..<(5 * 256)).map { _ in Int32(r.int(0...255)) }
        let input = try Tensor(shape: [2, 5, 16, 16], floats: codes.map { Float($0 - zxValue) * sxValue })
        let p = QuantParams(scale: syValue, zeroPoint: zyValue, dtype: .uint8)
        let expected = codes.indices.map { i -> Float in
            let v = Float(codes[i] - zxValue) * sxValue, c = (i / 256) % 5
            return Float(Int32(p.quantize(v < 0 ? slopes[c] * v : v)) - zyValue) * syValue
        }
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
            XCTAssertEqual(try plan.run(["x": input])[y]?.floats, expected, "\(isa?.rawValue ?? "swift")")
            // Computed (LeakyCodesKernel) rather than looked up, with the tables' bytes.
            XCTAssertEqual(plan.makeProfile().labels.filter { $0.hasPrefix("channel tables: PRelu") && $0.hasSuffix("(computed)") }.count, 1,
                           "\(plan.makeProfile().labels)")
        }
    }
}
