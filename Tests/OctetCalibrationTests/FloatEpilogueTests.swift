import Foundation
import OctetTestSupport
import XCTest

/// A float activation between an integer convolution and a per-tensor QuantizeLinear (NNCF leaves
/// HardSwish and SiLU unquantized) runs in the convolution's epilogue (`FloatEpilogue`): on every
/// path the codes equal those of the unfused plan (the convolution's float output, an FP32 island,
/// a quantize step) and of the Swift reference, bit for bit, and the profile names the fused
/// activation instead of an island. Where the float output has another reader the island stays.
final class FloatEpilogueTests: XCTestCase {
    let cin = 6, mid = 21, cout = 5

    /// x → QDQ → Conv 1×1 (int8 weights) → `activation` → QDQ (per tensor) → Conv 1×1 → QDQ → y;
    /// with `alsoOutput` the first convolution's float output is a graph output too.
    func graph(_ activation: (inout GraphBuilder, String) -> String, alsoOutput: Bool = false) throws -> (Graph, String) {
        var r = TestRandom(seed: 5)
        var b = GraphBuilder(name: "float-epilogue")
        func qdq(_ v: String, _ s: Float, _ z: UInt8) -> String {
            let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", (try? Tensor(shape: [], data: .uint8([z]))) ?? Tensor.filled([], 0))
            return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
        }
        func weights(_ rows: Int, _ cols: Int) throws -> String {
            let codes = (0..<rows * cols).map { _ in Int8(r.int(-127...127)) }
            let scales = (0..<rows).map { _ in Float(r.int(1...9)) * 0.002 }
            return b.add(.dequantizeLinear(axis: 0), [b.constant("wq", try Tensor(shape: [rows, cols, 1, 1], data: .int8(codes))),
                                                      b.constant("ws", try Tensor(shape: [rows], floats: scales)),
                                                      b.constant("wz", try Tensor(shape: [rows], data: .int8(Array(repeating: 0, count: rows))))])
        }
        let x = qdq(b.input("x", dims: [nil, cin, 13, 11]), 0.02, 100)
        let a = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [x, try weights(mid, cin),
                                                                   b.constant("b1", try Tensor(shape: [mid], floats: (0..<mid).map { _ in Float(r.int(-50...50)) * 0.01 }))])
        let q = qdq(activation(&b, a), 0.015, 20)
        let y = qdq(b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [q, try weights(cout, mid)]), 0.05, 128)
        b.output(y, dims: [nil, cout, 13, 11])
        if alsoOutput { b.output(a, dims: [nil, mid, 13, 11]) }
        return (b.graph, y)
    }

    func testActivationsBetweenAConvolutionAndItsQuantizationRunInItsEpilogue() throws {
        let cases: [(String, (inout GraphBuilder, String) -> String)] = [
            ("HardSwish", { b, a in b.add(.unary(.hardSwish), [a]) }),
            ("Sigmoid", { b, a in b.add(.unary(.sigmoid), [a]) }),
            ("HardSigmoid", { b, a in b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [a]) }),
            ("Sigmoid, Mul", { b, a in b.add(.mul, [a, b.add(.unary(.sigmoid), [a])]) }),
        ]
        var r = TestRandom(seed: 6)
        let input = try Tensor(shape: [3, cin, 13, 11], floats: (0..<(3 * cin * 143)).map { _ in Float(r.int(0...255) - 100) * 0.02 })
        for (name, body) in cases {
            let (g, y) = try graph(body)
            var reference: [Float]? = nil
            for isa in [nil] + ISA.supported.map(Optional.some) {
                let label = "\(name) on \(isa?.rawValue ?? "swift")"
                let fused = try Int8Plan(graph: g, threads: 2, isa: isa)
                let unfused = try Int8Plan(graph: g, threads: 2, isa: isa, fuseIntoConvolutions: false)
                let values = try XCTUnwrap(try fused.run(["x": input])[y]?.floats, label)
                XCTAssertEqual(try unfused.run(["x": input])[y]?.floats, values, "\(label): fused and unfused differ")
                if let reference { XCTAssertEqual(values, reference, "\(label): not the Swift reference's outputs") } else { reference = values }
                let steps = fused.makeProfile().labels
                XCTAssertEqual(steps.filter { $0.contains("+ \(name) (fp32) + quantize") }.count, 1, "\(label): \(steps)")
                // The input's quantize step only; unfused, the island's output has its own.
                XCTAssertEqual(steps.filter { $0.contains("island") || $0 == "quantize" }, ["quantize"], "\(label): \(steps)")
                let unfusedSteps = unfused.makeProfile().labels
                XCTAssertEqual(unfusedSteps.filter { $0.hasPrefix("fp32 island: \(name)") }.count, 1, "\(label): \(unfusedSteps)")
                XCTAssertEqual(unfusedSteps.filter { $0 == "quantize" }.count, 2, "\(label): \(unfusedSteps)")
            }
        }
    }

    func testAFloatOutputWithAnotherReaderKeepsItsIsland() throws {
        let (g, _) = try graph({ b, a in b.add(.unary(.hardSwish), [a]) }, alsoOutput: true)
        for isa in ISA.supported {
            let steps = try Int8Plan(graph: g, threads: 2, isa: isa).makeProfile().labels
            XCTAssertEqual(steps.filter { $0.hasPrefix("fp32 island: HardSwish") }.count, 1, "\(isa): \(steps)")
            XCTAssertFalse(steps.contains { $0.contains("(fp32) + quantize") }, "\(isa): \(steps)")
        }
    }
}
