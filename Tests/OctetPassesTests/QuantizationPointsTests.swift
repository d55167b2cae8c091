import OctetTestSupport
import XCTest

/// Which activations the quantize pass quantizes around element-wise ops: a squeeze-excitation's
/// gate and product (integer Mul, Sigmoid table), but nothing inside a function of one tensor
/// (SiLU's x·Sigmoid(x), a HardSwish spelled out as x·Clip(x+3, 0, 6)/6: one table each), and
/// never the output of an Add of a constant.
final class QuantizationPointsTests: XCTestCase {
    /// A 1×1 convolution of `v` with random weights, named `name`.
    static func conv(_ b: inout GraphBuilder, _ r: inout TestRandom, _ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String {
        b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [v, b.constant(name + "_w", r.tensor([cout, cin, 1, 1]))], name: name)
    }

    func testGatesAreQuantizedAndOneTensorFunctionsAreNot() throws {
        var b = GraphBuilder(name: "se")
        let x = b.input("x", dims: [nil, 4, 6, 6])
        var r = TestRandom(seed: 2)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String { Self.conv(&b, &r, v, cin, cout, name) }
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

    /// A ShuffleNet unit: the Concat is quantized although only data movement reads it (the
    /// channel shuffle and the split run on codes), and every quantized tensor the data movement
    /// produces carries the Concat's parameters instead of a calibration of its own, as ONNX
    /// Runtime's quantizer does; the calibration table gets an entry for each.
    func testDataMovementCarriesTheParametersOfWhatItMoves() throws {
        var b = GraphBuilder(name: "shuffle")
        let x = b.input("x", dims: [nil, 4, 6, 6])
        var r = TestRandom(seed: 3)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String { Self.conv(&b, &r, v, cin, cout, name) }
        func ints(_ v: [Int]) -> String { b.constant("i", try! Tensor(shape: [v.count], data: .int64(v.map(Int64.init)))) }
        let cat = b.add(.concat(axis: 1), [conv(x, 4, 4, "a"), conv(x, 4, 4, "b")], name: "cat")
        let grouped = b.add(.reshape(allowZero: false), [cat, ints([-1, 2, 4, 6, 6])], name: "r1")
        let shuffled = b.add(.reshape(allowZero: false), [b.add(.transpose(perm: [0, 2, 1, 3, 4]), [grouped], name: "t"), ints([-1, 8, 6, 6])],
                             name: "r2")
        let half = b.add(.slice, [shuffled, ints([4]), ints([8]), ints([1])], name: "half")
        let y = conv(half, 4, 2, "c")
        b.output(y, dims: [nil, 2, 6, 6])
        let points = InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions())
        XCTAssertTrue(points.activations.contains(cat), "\(points.activations)")
        XCTAssertEqual(points.inherited, [half: cat], "the convolution's input is the Concat's codes, moved")
        XCTAssertEqual(points.all.filter { points.inherited[$0] == nil }, points.activations)
        // Kept in FP32, the Slice is no longer moved on codes: its output is calibrated itself.
        let excluded = InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions(excludedOpTypes: ["Slice"]))
        XCTAssertEqual(excluded.inherited, [:])
        XCTAssertTrue(excluded.activations.contains(half))
    }

    /// A feature pyramid's top-down path: the linear Resize of a quantized map, read by the
    /// residual Add with the finer map, carries the coarse map's parameters (a blend of
    /// neighbours stays in their range), as ONNX Runtime's quantizer gives it.
    func testLinearResizeCarriesTheParametersOfItsInput() throws {
        var b = GraphBuilder(name: "fpn")
        let x = b.input("x", dims: [nil, 4, 8, 8])
        var r = TestRandom(seed: 4)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String { Self.conv(&b, &r, v, cin, cout, name) }
        let fine = conv(x, 4, 4, "fine")
        let coarse = b.add(.conv(Window2D(kernel: [1, 1], strides: [2, 2]), group: 1), [fine, b.constant("cw", r.tensor([4, 4, 1, 1]))],
                           name: "coarse")
        let scales = b.constant("scales", try Tensor(shape: [4], floats: [1, 1, 2, 2]))
        let up = b.add(.resize(ResizeAttributes(mode: .linear, coordinateTransform: .halfPixel, nearestMode: .floor)), [coarse, "", scales],
                       name: "up")
        let y = conv(b.add(.add, [up, fine], name: "merge"), 4, 2, "head")
        b.output(y, dims: [nil, 2, 8, 8])
        let points = InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions())
        XCTAssertEqual(points.inherited, [up: coarse])
        XCTAssertTrue(Set(points.activations).isSuperset(of: [fine, coarse]), "\(points.activations)")
    }

    /// MTCNN's head: a PRelu with constant slopes is an activation table, so its output is
    /// quantized and the Transpose and Reshape before the dense layer move its codes (before, the
    /// Reshape's output was the quantized one and the three ops ran as an FP32 island).
    func testPReluOutputIsQuantizedAndDataMovementAfterItCarriesItsParameters() throws {
        var b = GraphBuilder(name: "mtcnn head")
        let x = b.input("x", dims: [nil, 4, 3, 3])
        var r = TestRandom(seed: 5)
        let c = Self.conv(&b, &r, x, 4, 4, "c")
        let prelu = b.add(.binary(.prelu), [c, b.constant("slope", r.tensor([4, 1, 1]))], name: "prelu")
        let t = b.add(.transpose(perm: [0, 3, 2, 1]), [prelu], name: "t")
        let flat = b.add(.reshape(allowZero: false), [t, b.constant("shape", try Tensor(shape: [2], data: .int64([-1, 36])))], name: "flat")
        let y = b.add(.gemm(GemmAttributes(transB: true)), [flat, b.constant("w", r.tensor([2, 36]))], name: "dense")
        b.output(y, dims: [nil, 2])
        let points = InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions())
        XCTAssertTrue(Set(points.activations).isSuperset(of: [c, prelu]), "\(points.activations)")
        XCTAssertEqual(points.inherited, [flat: prelu])
        // Excluded by name, it is not quantized.
        XCTAssertFalse(InsertQuantizeDequantize.quantizedNodes(b.graph, options: QuantizeOptions(excludedNodes: ["prelu"])).contains("prelu"))
    }

    /// A value whose only reader computes a graph output in float stays float: a detector's last
    /// convolution before its Sigmoid (which has no codes to map, its output being float), logits
    /// before a Softmax. A Sigmoid inside the graph is still a table with quantized input, and a
    /// value an integer op also reads is still quantized.
    func testValuesReadOnlyByFloatOutputFunctionsStayFloat() throws {
        var b = GraphBuilder(name: "heads")
        let x = b.input("x", dims: [nil, 4, 6, 6])
        var r = TestRandom(seed: 6)
        func conv(_ v: String, _ cin: Int, _ cout: Int, _ name: String) -> String { Self.conv(&b, &r, v, cin, cout, name) }
        let trunk = conv(x, 4, 4, "trunk")
        let gate = b.add(.unary(.sigmoid), [conv(trunk, 4, 4, "gate_conv")], name: "gate")
        let features = conv(gate, 4, 4, "features")
        let logits = conv(features, 4, 1, "logits")
        let prob = b.add(.unary(.sigmoid), [logits], name: "prob")
        let scores = conv(features, 4, 2, "scores")
        let softmax = b.add(.softmax(axis: 1, coerce2D: false), [scores], name: "softmax")
        let shared = conv(trunk, 4, 2, "shared")
        let sharedProb = b.add(.unary(.sigmoid), [shared], name: "shared_prob")
        b.output(prob, dims: [nil, 1, 6, 6])
        b.output(softmax, dims: [nil, 2, 6, 6])
        b.output(sharedProb, dims: [nil, 2, 6, 6])
        b.output(conv(shared, 2, 2, "after_shared"), dims: [nil, 2, 6, 6])
        let points = Set(InsertQuantizeDequantize.quantizationPoints(b.graph, options: QuantizeOptions()).activations)
        XCTAssertTrue(points.isSuperset(of: [trunk, gate, features, shared]), "\(points.sorted())")
        XCTAssertTrue(points.intersection([logits, scores]).isEmpty, "\(points.sorted())")
        let quantized = InsertQuantizeDequantize.quantizedNodes(b.graph, options: QuantizeOptions())
        XCTAssertTrue(quantized.contains("gate"))
        XCTAssertFalse(quantized.contains("prob"))
        XCTAssertFalse(quantized.contains("shared_prob"))
    }
}
