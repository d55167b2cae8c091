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

    /// A Mul of two different tensors (a squeeze-excitation's scale) is no table: it stays an island.
    func testAProductOfTwoTensorsStaysAnIsland() throws {
        var b = GraphBuilder(name: "se")
        let x = b.input("x", dims: [nil, 256])
        let s = b.constant("s", Tensor.filled([], 0.05)), z = b.constant("z", try Tensor(shape: [], data: .uint8([128])))
        func qdq(_ v: String) -> String { b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, s, z]), s, z]) }
        let a = qdq(x), c = qdq(b.add(.unary(.sigmoid), [x]))
        let y = qdq(b.add(.mul, [a, c]))
        b.output(y, dims: [nil, 256])
        let labels = try Int8Plan(graph: b.graph).makeProfile().labels
        XCTAssertEqual(labels.filter { $0.hasPrefix("table") }, [], "\(labels)")
        XCTAssertEqual(labels.filter { $0.contains("fp32 island: Mul") }.count, 1, "\(labels)")
    }
}
