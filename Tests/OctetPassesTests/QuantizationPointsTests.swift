import OctetTestSupport
import XCTest

/// Which activations the quantize pass quantizes around element-wise ops: a squeeze-excitation's
/// gate and product (integer Mul, Sigmoid table), but nothing inside a function of one tensor
/// (SiLU's x·Sigmoid(x), a HardSwish spelled out as x·Clip(x+3, 0, 6)/6: one table each), and
/// never the output of an Add of a constant.
final class QuantizationPointsTests: XCTestCase {
    func testGatesAreQuantizedAndOneTensorFunctionsAreNot() throws {
        var b = GraphBuilder(name: "se")
        let x = b.input("x", dims: [nil, 4, 6, 6])
        var r = TestRandom(seed: 2)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String {
            b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [v, b.constant(name + "_w", r.tensor([cout, cin, 1, 1]))], name: name)
        }
        let c1 = conv(x, 4, 4, "c1")
        let silu = b.add(.mul, [c1, b.add(.unary(.sigmoid), [c1], name: "silu_sigmoid")], name: "silu")
        let pooled = b.add(.globalAveragePool, [silu], name: "gap")
        let gate = b.add(.unary(.sigmoid), [conv(pooled, 4, 4, "c2")], name: "gate")
        let scaled = b.add(.mul, [silu, gate], name: "se")
        let three = b.constant("three", Tensor.filled([], 3)), six = b.constant("six", Tensor.filled([], 6))
        let shifted = b.add(.add, [scaled, three], name: "plus3")
        let hswish = b.add(.binary(.div), [b.add(.mul, [scaled, b.add(.clip(min: 0, max: 6), [shifted], name: "clip")], name: "hs_mul"), six],
                           name: "hs")
        let y = conv(hswish, 4, 2, "c3")
        b.output(y, dims: [nil, 2, 6, 6])
        let points = Set(InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions()).activations)
        // The gate (a Sigmoid read by a Mul of another tensor) and both of that Mul's operands.
        XCTAssertTrue(points.isSuperset(of: [gate, silu, scaled]), "\(points.sorted())")
        // SiLU's Sigmoid, the spelled-out HardSwish's Add, Clip and Mul: inside one-tensor functions.
        let inside = Set(b.graph.nodes.filter { ["silu_sigmoid", "plus3", "clip", "hs_mul"].contains($0.name) }.flatMap(\.outputs))
        XCTAssertEqual(points.intersection(inside), [], "\(points.sorted())")
        // The spelled-out HardSwish's result is the next convolution's input.
        XCTAssertTrue(points.contains(hswish))
    }
}
