import OctetTestSupport
import XCTest

/// The one matcher of the fused patterns (conv → [add] → [activation] → [quantize]) that the FP32
/// compiler, the INT8 compiler and the quantize pass share: which graphs match, and which do not.
final class FusionMatcherTests: XCTestCase {
    let window = Window2D(kernel: [1, 1])

    /// x → Conv → (Relu | Clip | Sigmoid) → QuantizeLinear, the activation's output optionally
    /// also read by a second node or declared a graph output.
    func chain(_ act: Op, secondReader: Bool = false, activationIsOutput: Bool = false) -> (Graph, names: [String: Int]) {
        var b = GraphBuilder(name: "t")
        let x = b.input("x", dims: [1, 2, 3, 3])
        let w = b.constant("w", Tensor.filled([2, 2, 1, 1], 0.5))
        let y = b.add(.conv(window, group: 1), [x, w], name: "conv")
        let a = b.add(act, [y], name: "act")
        let s = b.constant("s", Tensor.filled([], 0.1))
        let q = b.add(.quantizeLinear(axis: 1), [a, s], name: "q")
        b.output(q, dims: [1, 2, 3, 3])
        if secondReader { b.output(b.add(.relu, [a], name: "other"), dims: [1, 2, 3, 3]) }
        if activationIsOutput { b.output(a, dims: [1, 2, 3, 3]) }
        let g = b.graph
        return (g, Dictionary(uniqueKeysWithValues: g.nodes.enumerated().map { ($1.name, $0) }))
    }

    func testConvActivationQuantizeMatchesAsOnePattern() {
        for act in [Op.relu, .clip(min: -1, max: 6)] {
            let (g, n) = chain(act)
            let m = FusionMatcher(g)
            XCTAssertEqual(m.activation(after: "conv_out"), n["act"], "\(act)")
            let p = m.quantizedPattern(endingAt: n["q"]!, fusible: { if case .conv = $0 { true } else { false } })
            XCTAssertEqual(p?.op, n["conv"])
            XCTAssertEqual(p?.activation, n["act"])
        }
        XCTAssertEqual(Op.relu.clampBounds?.min, 0)
        XCTAssertEqual(Op.clip(min: -1, max: 6).clampBounds?.max, 6)
        XCTAssertNil(Op.unary(.sigmoid).clampBounds)
    }

    func testWhatDoesNotMatch() {
        // Not a clamp: the quantize pattern ends at the Sigmoid, which has no integer step.
        let (sig, s) = chain(.unary(.sigmoid))
        let m = FusionMatcher(sig)
        XCTAssertNil(m.activation(after: "conv_out"))
        XCTAssertNil(m.quantizedPattern(endingAt: s["q"]!, fusible: { if case .conv = $0 { true } else { false } }))
        // An op the caller cannot fuse.
        let (relu, r) = chain(.relu)
        XCTAssertNil(FusionMatcher(relu).quantizedPattern(endingAt: r["q"]!, fusible: { _ in false }))
        // Not a QuantizeLinear.
        XCTAssertNil(FusionMatcher(relu).quantizedPattern(endingAt: r["conv"]!, fusible: { _ in true }))
        // The activation's output has a second reader: it must be materialized, so nothing fuses into the Q.
        let (two, t) = chain(.relu, secondReader: true)
        XCTAssertNil(FusionMatcher(two).quantizedPattern(endingAt: t["q"]!, fusible: { _ in true }))
        XCTAssertEqual(FusionMatcher(two).activation(after: "conv_out"), t["act"], "the conv still fuses its sole-reader Relu")
        XCTAssertNil(FusionMatcher(two).soleReader(of: "act_out"))
        // A graph output is never fused away.
        let (out, _) = chain(.relu, activationIsOutput: true)
        XCTAssertNil(FusionMatcher(out).soleReader(of: "act_out"))
        // An activation the caller excludes (e.g. a node kept in FP32).
        XCTAssertNil(FusionMatcher(relu).activation(after: "conv_out", allowed: { $0.name != "act" }))
    }

    /// Before/after through the quantize pass: the quantization point after a Conv moves past a
    /// fused Relu, and stays before it when the Relu is excluded.
    func testTheQuantizePassQuantizesAfterTheFusedActivation() {
        let (g, _) = chain(.relu)
        var fp32 = g
        fp32.nodes.removeLast()   // drop the QuantizeLinear: an FP32 graph conv → relu
        fp32.outputs = [ValueInfo(name: "act_out", dims: [1, 2, 3, 3])]
        let fused = InsertQuantizeDequantize.quantizationPoints(fp32, options: QuantizeOptions()).activations
        XCTAssertEqual(fused, ["x"], "the Relu's output is the graph output, which stays FP32")
        var longer = fp32
        longer.nodes.append(Node(name: "pool", op: .globalAveragePool, inputs: ["act_out"], outputs: ["p"]))
        longer.outputs = [ValueInfo(name: "p", dims: [1, 2, 1, 1])]
        XCTAssertEqual(InsertQuantizeDequantize.quantizationPoints(longer, options: QuantizeOptions()).activations, ["x", "act_out"])
        var keepRelu = QuantizeOptions()
        keepRelu.excludedNodes = ["act"]
        XCTAssertEqual(InsertQuantizeDequantize.quantizationPoints(longer, options: keepRelu).activations, ["x", "conv_out", "act_out"])
    }
}
