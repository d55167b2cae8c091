import OctetTestSupport
import XCTest

/// Each pass on a `before` graph compared with the `expected` graph built the same way.
final class PassTests: XCTestCase {
    func testFoldBatchNormIntoConv() throws {
        let w = try Tensor(shape: [2, 1, 1, 1], floats: [2, 3])
        let bias = try Tensor(shape: [2], floats: [1, -1])
        let gamma = try Tensor(shape: [2], floats: [4, 1]), beta = try Tensor(shape: [2], floats: [0.5, 0])
        let mean = try Tensor(shape: [2], floats: [1, 2]), variance = try Tensor(shape: [2], floats: [3, 0])
        let window = Window2D(kernel: [1, 1])
        var before = GraphBuilder(name: "g")
        let x = before.input("x", dims: [nil, 1, 2, 2])
        let c = before.add(.conv(window, group: 2 / 2), [x, before.constant("w", w), before.constant("b", bias)], name: "conv")
        let y = before.add(.batchNormalization(epsilon: 1), [c, before.constant("gamma", gamma), before.constant("beta", beta),
                                                              before.constant("mean", mean), before.constant("var", variance)],
                           name: "bn", outputNames: ["y"])
        before.output(y, dims: [nil, 2, 2, 2])
        let after = FoldBatchNormIntoConv.apply(before.graph)

        // s = gamma / sqrt(var + eps) = [2, 1]; W' = [4, 3]; B' = (B - mean) * s + beta = [0.5, -3]
        var expected = GraphBuilder(name: "g")
        let ex = expected.input("x", dims: [nil, 1, 2, 2])
        _ = expected.add(.conv(window, group: 1), [ex, "conv_folded_W", "conv_folded_B"], name: "conv", outputNames: ["y"])
        expected.output("y", dims: [nil, 2, 2, 2])
        XCTAssertEqual(after.nodes, expected.graph.nodes)
        XCTAssertEqual(after.initializers["conv_folded_W"]?.floats, [4, 3])
        XCTAssertEqual(after.initializers["conv_folded_B"]?.floats, [0.5, -3])
        XCTAssertEqual(Set(after.initializers.keys), ["conv_folded_W", "conv_folded_B"])
    }

    /// A bias written as an Add of a per-channel constant and a BatchNormalization after a Conv
    /// or a grouped ConvTranspose (a text detector's head) fold into the layer: one node, the
    /// same outputs on the FP32 executor.
    func testBiasAddAndBatchNormFoldIntoConvAndConvTranspose() throws {
        var r = TestRandom(seed: 12)
        for transpose in [false, true] {
            var b = GraphBuilder(name: "g")
            let x = b.input("x", dims: [nil, 4, 5, 5])
            let layer: Op = transpose
                ? .convTranspose(ConvTransposeAttributes(window: Window2D(kernel: [2, 2], strides: [2, 2]), group: 2))
                : .conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 2)
            let wShape: [Int] = transpose ? [4, 3, 2, 2] : [6, 2, 3, 3]
            let c = b.add(layer, [x, b.constant("w", r.tensor(Shape(wShape)))], name: "layer")
            let biased = b.add(.add, [c, b.constant("bias", r.tensor([1, 6, 1, 1]))], name: "bias")
            let y = b.add(.batchNormalization(epsilon: 1e-5), [biased, b.constant("gamma", r.tensor([6])), b.constant("beta", r.tensor([6])),
                                                               b.constant("mean", r.tensor([6])), b.constant("var", r.tensor([6], 0.5, 2))],
                          name: "bn")
            b.output(y, dims: [nil, 6, nil, nil])
            let folded = try Pipelines.fp32Optimization.run(b.graph)
            XCTAssertEqual(folded.nodes.map(\.op.onnxType), [transpose ? "ConvTranspose" : "Conv"], "transpose \(transpose)")
            let input = r.tensor([2, 4, 5, 5])
            let options = PlanOptions(isa: .scalar, threads: 1)
            let a = try XCTUnwrap(try ExecutionPlan(graph: b.graph, options: options).run(["x": input])[y]?.floats)
            let f = try XCTUnwrap(try ExecutionPlan(graph: folded, options: options).run(["x": input])[y]?.floats)
            XCTAssertLessThan(maxRelativeError(f, a), 1e-5, "transpose \(transpose)")
        }
        // A constant that would broadcast a 1-D convolution's [N, C, L] output to rank 4 is no bias.
        var b = GraphBuilder(name: "g1d")
        let x = b.input("x", dims: [nil, 2, 7])
        let c = b.add(.conv(Window2D(kernel: [3]), group: 1), [x, b.constant("w", r.tensor([3, 2, 3]))], name: "conv1d")
        b.output(b.add(.add, [c, b.constant("bias", r.tensor([3, 1, 1]))], name: "bias"), dims: [nil, 3, 3, 5])
        XCTAssertEqual(FoldBiasAddIntoConv.apply(b.graph).nodes.count, 2)
    }

    /// A TensorFlow-style zero Pad before strided convolutions (one Pad read by two of them, one
    /// with pads of its own, and one grouped) folds into their pads, with the same outputs; a Pad
    /// that also feeds another op, pads the channels, pads with a non-zero value, reflects, or
    /// would grow a pad to the window's size stays.
    func testZeroSpatialPadFoldsIntoTheConvolutionsItFeeds() throws {
        var r = TestRandom(seed: 31)
        func pads(_ b: inout GraphBuilder, _ name: String, _ v: [Int64]) -> String {
            b.constant(name, try! Tensor(shape: [8], data: .int64(v)))
        }
        var b = GraphBuilder(name: "tf")
        let x = b.input("x", dims: [nil, 4, 9, 9])
        let p = b.add(.pad(.constant), [x, pads(&b, "p1", [0, 0, 0, 1, 0, 0, 1, 2])], name: "pad")
        let c1 = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2]), group: 1), [p, b.constant("w1", r.tensor([6, 4, 3, 3]))], name: "c1")
        let c2 = b.add(.conv(Window2D(kernel: [4, 4], strides: [2, 2], pads: [1, 0, 0, 0]), group: 2),
                       [p, b.constant("w2", r.tensor([6, 2, 4, 4])), b.constant("b2", r.tensor([6]))], name: "c2")
        let y = b.add(.add, [c1, c2], name: "sum")
        // Kept: channel pads, a non-zero value, reflect, and a Pad that a Relu also reads.
        let q = b.add(.pad(.constant), [y, pads(&b, "p2", [0, 1, 1, 1, 0, 0, 1, 1])], name: "pad_channels")
        let c3 = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [q, b.constant("w3", r.tensor([3, 7, 1, 1]))], name: "c3")
        let v = b.add(.pad(.constant), [c3, pads(&b, "p3", [0, 0, 1, 1, 0, 0, 1, 1]), b.constant("one", try Tensor(shape: [], floats: [1]))],
                      name: "pad_one")
        let c4 = b.add(.conv(Window2D(kernel: [3, 3]), group: 1), [v, b.constant("w4", r.tensor([3, 3, 3, 3]))], name: "c4")
        let m = b.add(.pad(.reflect), [c4, pads(&b, "p4", [0, 0, 1, 1, 0, 0, 1, 1])], name: "pad_reflect")
        let c5 = b.add(.conv(Window2D(kernel: [3, 3]), group: 1), [m, b.constant("w5", r.tensor([3, 3, 3, 3]))], name: "c5")
        let s = b.add(.pad(.constant), [c5, pads(&b, "p5", [0, 0, 1, 1, 0, 0, 1, 1])], name: "pad_shared")
        let c6 = b.add(.conv(Window2D(kernel: [3, 3]), group: 1), [s, b.constant("w6", r.tensor([2, 3, 3, 3]))], name: "c6")
        let relu = b.add(.relu, [s], name: "relu")
        let w = b.add(.pad(.constant), [c6, pads(&b, "p6", [0, 0, 2, 0, 0, 0, 0, 0])], name: "pad_wide")
        let c7 = b.add(.conv(Window2D(kernel: [2, 2]), group: 1), [w, b.constant("w7", r.tensor([2, 2, 2, 2]))], name: "c7")
        b.output(c7, dims: [nil, 2, nil, nil])
        b.output(relu, dims: [nil, 3, nil, nil])
        let folded = try Pipelines.fp32Optimization.run(b.graph)
        XCTAssertEqual(folded.nodes.filter { if case .pad = $0.op { true } else { false } }.map(\.name),
                       ["pad_channels", "pad_one", "pad_reflect", "pad_shared", "pad_wide"])
        let conv = { (name: String) in folded.nodes.first { $0.name == name }?.op }
        XCTAssertEqual(conv("c1"), .conv(Window2D(kernel: [3, 3], strides: [2, 2], pads: [0, 1, 1, 2]), group: 1))
        XCTAssertEqual(conv("c2"), .conv(Window2D(kernel: [4, 4], strides: [2, 2], pads: [1, 1, 1, 2]), group: 2))
        let input = r.tensor([2, 4, 9, 9])
        let options = PlanOptions(isa: .scalar, threads: 1)
        let before = try ExecutionPlan(graph: b.graph, options: options).run(["x": input])
        let after = try ExecutionPlan(graph: folded, options: options).run(["x": input])
        for out in [c7, relu] {
            let a = try XCTUnwrap(before[out]?.floats), f = try XCTUnwrap(after[out]?.floats)
            XCTAssertLessThan(maxRelativeError(f, a), 1e-5, out)
        }
    }

    func testFoldingKeepsResNetOutputs() throws {
        let graph = ResNetSmallGraph.make()
        let folded = try Pipelines.fp32Optimization.run(graph)
        XCTAssertFalse(folded.nodes.contains { if case .batchNormalization = $0.op { true } else { false } })
        var r = TestRandom(seed: 2)
        let x = r.tensor([2, 3, 16, 16])
        let a = try ReferenceInterpreter.run(graph, inputs: ["x": x])["y"]!.floats!
        let b = try ReferenceInterpreter.run(folded, inputs: ["x": x])["y"]!.floats!
        XCTAssertLessThan(maxRelativeError(b, a), 1e-5)
    }

    func testConstantFoldingAndIdentityRemoval() throws {
        var b = GraphBuilder(name: "g")
        let x = b.input("x", dims: [nil, 4])
        let c1 = b.constant("c1", try Tensor(shape: [4], floats: [1, 2, 3, 4]))
        let c2 = b.constant("c2", try Tensor(shape: [], floats: [10]))
        let sum = b.add(.add, [c1, c2], name: "constadd")
        let shaped = b.add(.reshape(allowZero: false), [sum, b.constant("shape", try Tensor(shape: [2], data: .int64([1, 4])))], name: "constreshape")
        let id = b.add(.identity, [x], name: "id")
        let y = b.add(.mul, [id, shaped], name: "mul", outputNames: ["y"])
        _ = b.add(.relu, [x], name: "dead")
        b.output(y, dims: [nil, 4])
        let out = try Pipelines.fp32Optimization.run(b.graph)
        XCTAssertEqual(out.nodes, [Node(name: "mul", op: .mul, inputs: ["x", shaped], outputs: ["y"])])
        XCTAssertEqual(out.initializers[shaped], try Tensor(shape: [1, 4], floats: [11, 12, 13, 14]))
        XCTAssertEqual(out.initializers.count, 1)
    }

    func testIdentityFeedingGraphOutputRenamesProducer() throws {
        var b = GraphBuilder(name: "g")
        let x = b.input("x", dims: [nil, 4])
        let r = b.add(.relu, [x], name: "relu")
        let y = b.add(.identity, [r], name: "id", outputNames: ["y"])
        b.output(y, dims: [nil, 4])
        let out = RemoveIdentities.apply(b.graph)
        XCTAssertEqual(out.nodes, [Node(name: "relu", op: .relu, inputs: ["x"], outputs: ["y"])])
    }

    func testVerifyNamesThePassThatBrokeTheGraph() {
        let broken = Pass("Break") { (g: Graph) throws(GraphError) -> Graph in var h = g; h.nodes.removeAll(); return h }
        var b = GraphBuilder(name: "g")
        let x = b.input("x", dims: [nil, 4])
        b.output(b.add(.relu, [x]), dims: [nil, 4])
        XCTAssertThrowsError(try [broken].run(b.graph)) { XCTAssertTrue("\($0)".contains("after pass Break"), "\($0)") }
    }

    /// High-bias absorption: a Relu-fed unpadded convolution takes over the part of its input every
    /// sample exceeds, keeping the function on inputs that exceed it and narrowing the activation;
    /// a padded second layer is no candidate (its padding would see the shift), and a channel
    /// with nothing to absorb is left alone.
    func testHighBiasAbsorptionKeepsTheFunctionWhereTheActivationExceedsTheAmount() throws {
        var r = TestRandom(seed: 5)
        var b = GraphBuilder(name: "absorb")
        let x = b.input("x", dims: [nil, 3, 5, 5])
        // Biases of 2..9 with weights and inputs below 0.1: every output of `a` is above 1.
        let a = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                      [x, b.constant("wa", r.tensor([8, 3, 3, 3], -0.01, 0.01)), b.constant("ba", try Tensor(shape: [8], floats: (0..<8).map { Float($0 + 2) }))],
                      name: "a")
        let relu = b.add(.relu, [a])
        let y = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [relu, b.constant("wb", r.tensor([4, 8, 1, 1]))], name: "b")
        let padded = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [b.add(.relu, [y]), b.constant("wc", r.tensor([2, 4, 3, 3]))], name: "c")
        b.output(padded, dims: [nil, 2, 5, 5])
        XCTAssertEqual(HighBiasAbsorption.candidates(b.graph).map(\.node), ["a"], "b → Relu → c reads padding: no candidate")
        var amounts = (0..<8).map { Float($0) + 1 }   // below each channel's smallest output (≥ bias − 0.27)
        amounts[3] = 0                                // nothing to absorb on channel 3
        let absorbed = HighBiasAbsorption.apply(b.graph, amounts: ["a": amounts])
        let input = r.tensor([2, 3, 5, 5], -1, 1)
        let options = PlanOptions(isa: .scalar, threads: 1)
        let before = try XCTUnwrap(try ExecutionPlan(graph: b.graph, options: options).run(["x": input])[padded]?.floats)
        let after = try XCTUnwrap(try ExecutionPlan(graph: absorbed, options: options).run(["x": input])[padded]?.floats)
        XCTAssertLessThan(maxRelativeError(after, before), 1e-5)
        let node = try XCTUnwrap(absorbed.nodes.first { $0.name == "a" })
        let biasA = try XCTUnwrap(absorbed.initializers[node.inputs[2]]?.floats)
        XCTAssertEqual(biasA, (0..<8).map { Float($0 + 2) - amounts[$0] })
        XCTAssertEqual(biasA[3], 5, "channel 3 kept its bias")
        let bNode = try XCTUnwrap(absorbed.nodes.first { $0.name == "b" })
        XCTAssertEqual(bNode.inputs.count, 3, "b gained a bias")
        // The activation between them spans less: its largest value drops by at least the smallest amount moved.
        final class Peak: TensorObserver, @unchecked Sendable {
            let name: String
            var peak = -Float.infinity
            init(_ name: String) { self.name = name }
            func observe(_ t: ObservedTensor, worker: Int) { if t.name == name { peak = max(peak, t.values.max() ?? peak) } }
        }
        var unfused = options
        unfused.fuse = false
        let (peakBefore, peakAfter) = (Peak(relu), Peak(relu))
        _ = try ExecutionPlan(graph: b.graph, options: unfused).run(["x": input], observer: peakBefore)
        _ = try ExecutionPlan(graph: absorbed, options: unfused).run(["x": input], observer: peakAfter)
        XCTAssertTrue(peakBefore.peak.isFinite && peakAfter.peak.isFinite)
        XCTAssertLessThanOrEqual(peakAfter.peak, peakBefore.peak - 1 + 1e-4)
        // Amounts of the wrong size, negative or NaN move nothing.
        XCTAssertEqual(HighBiasAbsorption.apply(b.graph, amounts: ["a": [1, 2]]), b.graph)
        XCTAssertEqual(HighBiasAbsorption.apply(b.graph, amounts: ["a": Array(repeating: -1, count: 8)]), b.graph)
    }

    /// Cross-layer equalization keeps the function (Relu between the layers, a depthwise layer in
    /// the middle of a chain, a grouped last layer) and evens out the weight ranges: channels of
    /// very different scales end with each pair's ranges equal; a ReLU6 is equalized through (and
    /// becomes Relu) only when the caller says its input never reaches 6.
    func testCrossLayerEqualizationKeepsTheFunctionAndEqualizesRanges() throws {
        var r = TestRandom(seed: 31)
        var b = GraphBuilder(name: "chain")
        let x = b.input("x", dims: [nil, 4, 6, 6])
        // Output channels of very different ranges (a folded BatchNormalization's typical result).
        var w1 = r.tensor([8, 4, 1, 1]).floats!
        for c in 0..<8 { for k in 0..<4 { w1[c * 4 + k] *= [0.01, 1, 30, 0.2, 5, 0.05, 2, 100][c] } }
        let a = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [x, b.constant("w1", try Tensor(shape: [8, 4, 1, 1], floats: w1)),
                                                               b.constant("b1", r.tensor([8], -0.1, 0.1))], name: "expand")
        let dw = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 8), [b.add(.relu, [a]), b.constant("w2", r.tensor([8, 1, 3, 3], -0.1, 0.1)),
                                                                                     b.constant("b2", r.tensor([8], -0.1, 0.1))], name: "dw")
        let y = b.add(.conv(Window2D(kernel: [1, 1]), group: 2), [b.add(.clip(min: 0, max: 6), [dw]), b.constant("w3", r.tensor([6, 4, 1, 1]))],
                      name: "project")
        b.output(y, dims: [nil, 6, 6, 6])
        // A ReLU6 is equalized through only when named as never clipping.
        XCTAssertEqual(CrossLayerEqualization.clipsBetweenConvolutions(b.graph).map(\.max), [6])
        let clip = try XCTUnwrap(b.graph.nodes.first { if case .clip = $0.op { true } else { false } }).name
        let firstPairOnly = CrossLayerEqualization.apply(b.graph)
        XCTAssertEqual(firstPairOnly.nodes.map(\.op.onnxType), ["Conv", "Relu", "Conv", "Clip", "Conv"])
        let equalized = CrossLayerEqualization.apply(b.graph, unclipped: [clip])
        XCTAssertEqual(equalized.nodes.map(\.op.onnxType), ["Conv", "Relu", "Conv", "Relu", "Conv"], "the ReLU6 became Relu")
        // Inputs small enough that no activation reaches 6: the same function.
        let input = r.tensor([2, 4, 6, 6], -0.01, 0.01)
        let options = PlanOptions(isa: .scalar, threads: 1)
        let before = try XCTUnwrap(try ExecutionPlan(graph: b.graph, options: options).run(["x": input])[y]?.floats)
        let after = try XCTUnwrap(try ExecutionPlan(graph: equalized, options: options).run(["x": input])[y]?.floats)
        XCTAssertLessThan(maxRelativeError(after, before), 1e-4)
        // Ranges: expand's output channel c and dw's channel c end equal, as do dw's and project's.
        func weights(_ node: String) throws -> [Float] {
            let n = try XCTUnwrap(equalized.nodes.first { $0.name == node })
            return try XCTUnwrap(equalized.initializers[n.inputs[1]]?.floats)
        }
        let e = try weights("expand"), d = try weights("dw"), p = try weights("project")
        func range(_ v: ArraySlice<Float>) -> Float { v.reduce(0) { max($0, abs($1)) } }
        let spreadBefore = (0..<8).map { range(w1[($0 * 4)..<($0 * 4 + 4)]) }
        let spreadAfter = (0..<8).map { range(e[($0 * 4)..<($0 * 4 + 4)]) }
        XCTAssertGreaterThan(spreadBefore.max()! / spreadBefore.min()!, 1000)
        XCTAssertLessThan(spreadAfter.max()! / spreadAfter.min()!, spreadBefore.max()! / spreadBefore.min()! / 10)
        for c in 0..<8 {
            let dwRange = range(d[(c * 9)..<(c * 9 + 9)])
            // project is grouped (2 groups of 4 inputs): input channel c is column c % 4 of group c / 4's rows.
            let rows = (c / 4 * 3)..<(c / 4 * 3 + 3)
            let projectRange = rows.map { abs(p[$0 * 4 + c % 4]) }.max()!
            XCTAssertEqual(dwRange, projectRange, accuracy: dwRange * 1e-2, "channel \(c): dw vs project")
        }
    }
}

enum ResNetSmallGraph {
    static func make() -> Graph {
        var r = TestRandom(seed: 8)
        var b = GraphBuilder(name: "small")
        let x = b.input("x", dims: [nil, 3, 16, 16])
        var y = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [x, b.constant("w", r.tensor([4, 3, 3, 3]))])
        y = b.add(.batchNormalization(epsilon: 1e-5), [y, b.constant("g", r.tensor([4], 0.5, 1)), b.constant("b", r.tensor([4])),
                                                        b.constant("m", r.tensor([4])), b.constant("v", r.tensor([4], 0.5, 1.5))])
        y = b.add(.dropout, [b.add(.relu, [y])], outputNames: ["y"])
        b.output(y, dims: [nil, 4, 16, 16])
        return b.graph
    }

}
