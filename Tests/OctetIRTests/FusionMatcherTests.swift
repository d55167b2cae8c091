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

    /// ShuffleNet's Reshape → Transpose [0,2,1,3,4] → Reshape matches as a channel shuffle with its
    /// group count; another perm, a second reader, or a final shape that is not the input's does not.
    func testChannelShuffleMatchesOnlyTheExportedPattern() throws {
        func graph(perm: [Int], back: [Int64], secondReader: Bool = false) throws -> (Graph, [String: Shape]) {
            var b = GraphBuilder(name: "shuffle")
            let x = b.input("x", dims: [1, 6, 2, 3])
            let split = b.constant("split", try Tensor(shape: [5], data: .int64([1, 2, 3, 2, 3])))
            let backShape = b.constant("back", try Tensor(shape: Shape([back.count]), data: .int64(back)))
            let r = b.add(.reshape(allowZero: false), [x, split], name: "r")
            let t = b.add(.transpose(perm: perm), [r], name: "t")
            let y = b.add(.reshape(allowZero: false), [t, backShape], name: "y")
            b.output(y, dims: back.map { Int($0) })
            if secondReader { b.output(b.add(.relu, [t], name: "other"), dims: [1, 3, 2, 2, 3]) }
            let tShape: Shape = perm == [0, 2, 1, 3, 4] ? [1, 3, 2, 2, 3] : [1, 2, 3, 3, 2]
            return (b.graph, ["x": [1, 6, 2, 3], "r_out": [1, 2, 3, 2, 3], "t_out": tShape, "y_out": Shape(back.map { Int($0) })])
        }
        let (g, shapes) = try graph(perm: [0, 2, 1, 3, 4], back: [1, 6, 2, 3])
        let m = try XCTUnwrap(FusionMatcher(g).channelShuffle(at: 0, shapes: shapes))
        XCTAssertEqual(m.transpose, 1); XCTAssertEqual(m.reshape, 2); XCTAssertEqual(m.groups, 2)
        let (other, s2) = try graph(perm: [0, 1, 2, 4, 3], back: [1, 6, 2, 3])
        XCTAssertNil(FusionMatcher(other).channelShuffle(at: 0, shapes: s2))
        let (shared, s3) = try graph(perm: [0, 2, 1, 3, 4], back: [1, 6, 2, 3], secondReader: true)
        XCTAssertNil(FusionMatcher(shared).channelShuffle(at: 0, shapes: s3))
        let (flat, s4) = try graph(perm: [0, 2, 1, 3, 4], back: [1, 36])
        XCTAssertNil(FusionMatcher(flat).channelShuffle(at: 0, shapes: s4))
    }
}
