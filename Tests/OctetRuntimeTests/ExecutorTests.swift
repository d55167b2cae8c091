import OctetTestSupport
import XCTest

/// The executor against the reference interpreter, op by op and on fused patterns.
final class ExecutorTests: XCTestCase {
    var rng = TestRandom(seed: 11)

    func const(_ b: inout GraphBuilder, _ name: String, _ shape: Shape, _ lo: Float = -1, _ hi: Float = 1) -> String {
        b.constant(name, rng.tensor(shape, lo, hi))
    }

    func conv(_ b: inout GraphBuilder, _ x: String, cin: Int, cout: Int, k: Int, stride: Int = 1, pad: Int = 0, group: Int = 1,
              dilation: Int = 1, bias: Bool = true, autoPad: AutoPad = .notSet) -> String {
        let w = const(&b, "w", [cout, cin / group, k, k], -0.5, 0.5)
        var ins = [x, w]
        if bias { ins.append(const(&b, "b", [cout])) }
        let window = Window2D(kernel: [k, k], strides: [stride, stride], dilations: [dilation, dilation],
                              pads: [pad, pad, pad, pad], autoPad: autoPad)
        return b.add(.conv(window, group: group), ins)
    }

    func finish(_ b: inout GraphBuilder, _ y: String, dims: [Int?]) -> Graph {
        b.output(y, dims: dims)
        return b.graph
    }

    func testResidualBlockFusesAndMatches() throws {
        var b = GraphBuilder(name: "residual")
        let x = b.input("x", dims: [nil, 8, 9, 7])
        var y = conv(&b, x, cin: 8, cout: 8, k: 3, pad: 1)
        y = b.add(.relu, [y])
        y = conv(&b, y, cin: 8, cout: 8, k: 3, pad: 1, bias: false)
        y = b.add(.add, [y, x])
        y = b.add(.relu, [y])
        try assertExecutorMatchesReference(finish(&b, y, dims: [nil, 8, 9, 7]))
    }

    func testClassifierHead() throws {
        var b = GraphBuilder(name: "head")
        let x = b.input("x", dims: [nil, 5, 6, 6])
        var y = conv(&b, x, cin: 5, cout: 12, k: 3, stride: 2, pad: 1)
        y = b.add(.clip(min: 0, max: 6), [y])
        y = b.add(.globalAveragePool, [y])
        y = b.add(.flatten(axis: 1), [y])
        y = b.add(.gemm(GemmAttributes(alpha: 0.5, beta: 2, transB: true)), [y, const(&b, "fc", [10, 12]), const(&b, "fcb", [10])])
        y = b.add(.softmax(axis: -1, coerce2D: false), [y])
        try assertExecutorMatchesReference(finish(&b, y, dims: [nil, 10]))
    }

    func testDepthwiseGroupedDilatedAutoPad() throws {
        var b = GraphBuilder(name: "depthwise")
        let x = b.input("x", dims: [nil, 6, 11, 10])
        var y = conv(&b, x, cin: 6, cout: 6, k: 3, stride: 2, group: 6, autoPad: .sameUpper)
        y = conv(&b, y, cin: 6, cout: 9, k: 3, group: 3, dilation: 2, autoPad: .sameLower)
        y = conv(&b, y, cin: 9, cout: 9, k: 5, pad: 2, group: 9)
        try assertExecutorMatchesReference(finish(&b, y, dims: [nil, 9, 6, 5]))
    }

    func testPoolingWithCeilModeAndPadding() throws {
        var b = GraphBuilder(name: "pooling")
        let x = b.input("x", dims: [nil, 3, 13, 11])
        var y = b.add(.maxPool(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), ceilMode: false), [x])
        y = b.add(.averagePool(Window2D(kernel: [2, 2], strides: [2, 2]), ceilMode: true, countIncludePad: false), [y])
        let z = b.add(.averagePool(Window2D(kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1]), ceilMode: false, countIncludePad: true), [y])
        try assertExecutorMatchesReference(finish(&b, z, dims: [nil, 3, 4, 3]))
    }

    func testBroadcastingElementwiseAndStandaloneBatchNorm() throws {
        var b = GraphBuilder(name: "elementwise")
        let x = b.input("x", dims: [nil, 4, 5, 3])
        var y = b.add(.mul, [x, const(&b, "scale", [4, 1, 1])])
        y = b.add(.add, [y, const(&b, "shift", [1, 4, 1, 1])])
        y = b.add(.add, [const(&b, "row", [3]), y])
        y = b.add(.mul, [y, const(&b, "s", [])])
        y = b.add(.batchNormalization(epsilon: 1e-3), [y, const(&b, "g", [4]), const(&b, "be", [4]),
                                                         const(&b, "m", [4]), const(&b, "v", [4], 0.5, 2)])
        y = b.add(.identity, [y])
        try assertExecutorMatchesReference(finish(&b, y, dims: [nil, 4, 5, 3]))
    }

    func testConcatReshapeMatMulAndLegacySoftmax() throws {
        var b = GraphBuilder(name: "shapes")
        let x = b.input("x", dims: [nil, 3, 4, 4])
        let a = conv(&b, x, cin: 3, cout: 2, k: 1)
        let c = conv(&b, x, cin: 3, cout: 5, k: 3, pad: 1)
        var y = b.add(.concat(axis: 1), [a, c])
        y = b.add(.reshape(allowZero: false), [y, b.constant("shape", try Tensor(shape: [2], data: .int64([0, -1])))])
        y = b.add(.matMul, [y, const(&b, "m", [112, 6])])
        y = b.add(.softmax(axis: 1, coerce2D: true), [y])
        try assertExecutorMatchesReference(finish(&b, y, dims: [nil, 6]))
    }

    func testObserverSeesEveryValueOncePerImage() throws {
        var b = GraphBuilder(name: "observed")
        let x = b.input("x", dims: [nil, 2, 5, 5])
        var y = conv(&b, x, cin: 2, cout: 3, k: 3, pad: 1)
        y = b.add(.relu, [y])
        y = b.add(.globalAveragePool, [y])
        let graph = finish(&b, y, dims: [nil, 3, 1, 1])
        final class Recorder: TensorObserver, @unchecked Sendable {
            let lock = NSLock()
            var seen: [String: Int] = [:]
            func observe(_ t: ObservedTensor, worker: Int) { lock.lock(); seen[t.name, default: 0] += 1; lock.unlock() }
        }
        let recorder = Recorder()
        let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: .best, threads: 2, fuse: false))
        _ = try plan.run(["x": rng.tensor([4, 2, 5, 5])], observer: recorder)
        XCTAssertEqual(recorder.seen, ["x": 4, graph.nodes[0].outputs[0]: 4, graph.nodes[1].outputs[0]: 4, y: 4])
    }

    func testWrongInputShapeIsAClearError() throws {
        var b = GraphBuilder(name: "shape")
        let x = b.input("x", dims: [nil, 3, 8, 8])
        let graph = finish(&b, b.add(.relu, [x]), dims: [nil, 3, 8, 8])
        let plan = try ExecutionPlan(graph: graph)
        XCTAssertThrowsError(try plan.run(["x": rng.tensor([1, 3, 8, 9])])) { error in
            XCTAssertEqual("\(error)", "input 'x': expected shape [N,3,8,8], got [1,3,8,9]")
        }
        XCTAssertThrowsError(try plan.run([:])) { XCTAssertTrue("\($0)".contains("missing")) }
    }

    /// A head of two dense layers with HardSwish and Relu between runs batched (a row per image)
    /// and gives the same bits as each image run alone, on every path, 1 and 2 threads, batches
    /// larger than a row group.
    func testBatchedHeadGivesTheSameBitsAsOneImageAtATime() throws {
        var b = GraphBuilder(name: "head2")
        let x = b.input("x", dims: [nil, 6, 5, 5])
        var y = conv(&b, x, cin: 6, cout: 40, k: 3, pad: 1)
        y = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
        y = b.add(.gemm(GemmAttributes(transB: true)), [y, const(&b, "fc1", [37, 40]), const(&b, "fc1b", [37])])
        y = b.add(.unary(.hardSwish), [y])
        y = b.add(.gemm(GemmAttributes(alpha: 0.5, transB: true)), [y, const(&b, "fc2", [33, 37]), const(&b, "fc2b", [33])])
        y = b.add(.relu, [y])
        let graph = finish(&b, y, dims: [nil, 33])
        let batch = 37
        let input = rng.tensor([batch, 6, 5, 5])
        for isa in ISA.supported where isa != .avx512vnni && isa != .avxvnni {
            for threads in [1, 2] {
                let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads))
                XCTAssertEqual(plan.batchedTailSteps, 5, "\(isa): Flatten, the dense layers and their activations run batched")
                let all = try XCTUnwrap(plan.run(["x": input]).values.first?.floats)
                let values = try XCTUnwrap(input.floats)
                for i in 0..<batch {
                    let one = try Tensor(shape: [1, 6, 5, 5], floats: Array(values[(i * 150)..<((i + 1) * 150)]))
                    let alone = try XCTUnwrap(plan.run(["x": one]).values.first?.floats)
                    XCTAssertEqual(alone.map(\.bitPattern), all[(i * 33)..<((i + 1) * 33)].map(\.bitPattern), "\(isa) \(threads) threads image \(i)")
                }
            }
        }
    }

    /// Sigmoid, HardSwish, HardSigmoid and SiLU after a convolution (dense, depthwise, with a
    /// residual Add and a Clip before them) run inside the convolution step, chunk by chunk, with
    /// the same bits as the unfused steps: every path, 1 and 2 threads, batch 1 (pixels split
    /// across threads) and 3, outputs larger than a chunk.
    func testActivationsAfterConvolutionFuseWithTheSameBits() throws {
        var b = GraphBuilder(name: "post")
        let x = b.input("x", dims: [nil, 6, 23, 21])
        var y = conv(&b, x, cin: 6, cout: 24, k: 3, pad: 1)
        y = b.add(.unary(.hardSwish), [y])
        let dw = b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [conv(&b, y, cin: 24, cout: 24, k: 3, pad: 1, group: 24)])
        var z = conv(&b, dw, cin: 24, cout: 24, k: 1)
        z = b.add(.clip(min: -2, max: 2), [b.add(.add, [z, y])])
        z = b.add(.unary(.sigmoid), [z])
        let s = conv(&b, z, cin: 24, cout: 17, k: 1)
        let silu = b.add(.mul, [s, b.add(.unary(.sigmoid), [s])])
        let graph = finish(&b, silu, dims: [nil, 17, 23, 21])
        for batch in [1, 3] {
            let input = rng.tensor([batch, 6, 23, 21])
            for isa in ISA.supported where isa != .avx512vnni && isa != .avxvnni {
                for threads in [1, 2] {
                    let fused = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads))
                    let plain = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads, fuse: false))
                    let labels = fused.makeProfile().labels
                    XCTAssertEqual(labels.filter { $0.contains("+hardSwish") || $0.contains("+sigmoid") || $0.contains("+silu") || $0.contains("+hardSigmoid") }.count, 4,
                                   "\(labels)")
                    let a = try XCTUnwrap(fused.run(["x": input]).values.first?.floats)
                    let p = try XCTUnwrap(plain.run(["x": input]).values.first?.floats)
                    XCTAssertEqual(a.map(\.bitPattern), p.map(\.bitPattern), "\(isa) \(threads) threads batch \(batch)")
                }
            }
        }
    }

    /// 3×3 convolutions that run as Winograd F(2×2, 3×3) (a residual block, one with HardSwish
    /// applied chunk by chunk, odd map sizes): each image gets the bits of itself run alone, with
    /// 1 and 2 threads (batch 1 splits each layer's tile rows across them) on every path; the
    /// fused plan gives the unfused plan's bits; and the result stays within float rounding of
    /// the same convolutions run directly.
    func testWinogradConvolutionsGiveTheSameBitsWhateverTheSplit() throws {
        var b = GraphBuilder(name: "wino")
        let x = b.input("x", dims: [nil, 32, 19, 21])
        let y = conv(&b, x, cin: 32, cout: 40, k: 3, pad: 1)
        var z = b.add(.relu, [conv(&b, y, cin: 40, cout: 40, k: 3, pad: 1)])
        z = b.add(.unary(.hardSwish), [b.add(.add, [conv(&b, z, cin: 40, cout: 40, k: 3, pad: 1), y])])
        let graph = finish(&b, z, dims: [nil, 40, 19, 21])
        let batch = 3
        let input = rng.tensor([batch, 32, 19, 21])
        let values = try XCTUnwrap(input.floats)
        let per = 32 * 19 * 21, outPer = 40 * 19 * 21
        var results: [[Float]] = []
        for isa in ISA.supported where isa != .avx512vnni && isa != .avxvnni {
            for threads in [1, 2] {
                let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads))
                XCTAssertEqual(plan.makeProfile().labels.filter { $0.contains("Winograd") }.count, 3, "\(plan.makeProfile().labels)")
                let all = try XCTUnwrap(plan.run(["x": input]).values.first?.floats)
                let plain = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads, fuse: false))
                XCTAssertEqual(try XCTUnwrap(plain.run(["x": input]).values.first?.floats).map(\.bitPattern), all.map(\.bitPattern),
                               "\(isa) \(threads) threads: fused and unfused")
                for i in 0..<batch {
                    let one = try Tensor(shape: [1, 32, 19, 21], floats: Array(values[(i * per)..<((i + 1) * per)]))
                    let alone = try XCTUnwrap(plan.run(["x": one]).values.first?.floats)
                    XCTAssertEqual(alone.map(\.bitPattern), all[(i * outPer)..<((i + 1) * outPer)].map(\.bitPattern), "\(isa) \(threads) threads image \(i)")
                }
                results.append(all)
            }
        }
        // Against the double-precision reference interpreter's direct sums (up to the Add; HardSwish
        // applied here): a wrong transform anywhere shows.
        var beforeActivation = graph
        let last = beforeActivation.nodes.removeLast()
        beforeActivation.outputs = [ValueInfo(name: last.inputs[0], dims: [nil, 40, 19, 21])]
        let sums = try XCTUnwrap(ReferenceInterpreter.run(beforeActivation, inputs: ["x": input]).values.first?.floats)
        let reference = sums.map { v in v * min(max(v + 3, 0), 6) / 6 }
        for r in results {
            for (v, e) in zip(r, reference) { XCTAssertEqual(v, e, accuracy: 1e-4 * max(1, abs(e))) }
        }
    }

    /// A 1×1 convolution whose only reader is a depthwise one (an inverted-residual block's expand
    /// and depthwise layers) runs with it over row bands, with the bits of the two steps apart:
    /// strides 1 and 2, 3×3 and 5×5, dilation, no padding, channel counts off the vector width,
    /// Clip, HardSwish and a residual Add on either layer, maps (over 1 MB, as the step requires)
    /// taller than many bands; every
    /// path, 1 and 2 threads (batch 1 splits the rows across them), batch 1 and 3.
    func testPointwiseAndDepthwiseInRowBandsGiveTheSameBits() throws {
        struct Case { var h, w, cin, cexp, k, stride, pad, dilation: Int; var clip, hardSwish, residual: Bool }
        let cases = [
            Case(h: 73, w: 61, cin: 5, cexp: 60, k: 3, stride: 2, pad: 1, dilation: 1, clip: true, hardSwish: false, residual: false),
            Case(h: 56, w: 50, cin: 16, cexp: 96, k: 5, stride: 1, pad: 2, dilation: 1, clip: false, hardSwish: true, residual: true),
            Case(h: 60, w: 50, cin: 8, cexp: 88, k: 3, stride: 1, pad: 2, dilation: 2, clip: false, hardSwish: false, residual: false),
            Case(h: 401, w: 9, cin: 3, cexp: 81, k: 3, stride: 2, pad: 0, dilation: 1, clip: true, hardSwish: true, residual: false),
            Case(h: 77, w: 37, cin: 24, cexp: 104, k: 5, stride: 2, pad: 2, dilation: 1, clip: true, hardSwish: false, residual: false),
        ]
        for (n, c) in cases.enumerated() {
            var b = GraphBuilder(name: "bands\(n)")
            let x = b.input("x", dims: [nil, c.cin, c.h, c.w])
            let outH = (c.h + 2 * c.pad - c.dilation * (c.k - 1) - 1) / c.stride + 1
            let outW = (c.w + 2 * c.pad - c.dilation * (c.k - 1) - 1) / c.stride + 1
            // The residual: a value of the depthwise output's shape computed before the expand.
            let shortcut = c.residual ? conv(&b, x, cin: c.cin, cout: c.cexp, k: 1) : nil
            var y = conv(&b, x, cin: c.cin, cout: c.cexp, k: 1)
            if c.clip { y = b.add(.clip(min: 0, max: 6), [y]) }
            if c.hardSwish { y = b.add(.unary(.hardSwish), [y]) }
            y = conv(&b, y, cin: c.cexp, cout: c.cexp, k: c.k, stride: c.stride, pad: c.pad, group: c.cexp, dilation: c.dilation)
            if let shortcut { y = b.add(.add, [y, shortcut]) }
            if c.clip { y = b.add(.clip(min: -1, max: 1), [y]) }
            if c.hardSwish { y = b.add(.unary(.hardSwish), [y]) }
            y = conv(&b, y, cin: c.cexp, cout: 7, k: 1)
            let graph = finish(&b, y, dims: [nil, 7, outH, outW])
            for batch in [1, 3] {
                let input = rng.tensor([batch, c.cin, c.h, c.w], -2, 2)
                for isa in ISA.supported where isa != .avx512vnni && isa != .avxvnni {
                    for threads in [1, 2] {
                        let fused = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads))
                        let plain = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads, fuse: false))
                        let banded = fused.makeProfile().labels.filter { $0.contains("in row bands") }
                        XCTAssertEqual(banded.count, 1, "case \(n): \(fused.makeProfile().labels)")
                        let a = try XCTUnwrap(fused.run(["x": input]).values.first?.floats)
                        let p = try XCTUnwrap(plain.run(["x": input]).values.first?.floats)
                        XCTAssertEqual(a.map(\.bitPattern), p.map(\.bitPattern), "case \(n) \(isa) \(threads) threads batch \(batch)")
                    }
                }
            }
        }
    }

    /// `perElementSwiftSteps` names the steps without a C kernel (here Pow and Exp) and not the
    /// ones with one (Mul with a broadcast, PRelu, Relu).
    func testPlanNamesItsPerElementSwiftSteps() throws {
        var b = GraphBuilder(name: "slow")
        let x = b.input("x", dims: [nil, 4, 3, 3])
        var y = b.add(.mul, [x, const(&b, "s", [4, 1, 1])], name: "scale")
        y = b.add(.binary(.prelu), [y, const(&b, "slope", [4, 1, 1])], name: "prelu")
        y = b.add(.relu, [y], name: "relu")
        y = b.add(.binary(.pow), [y, b.constant("two", Tensor.filled([], 2))], name: "square")
        y = b.add(.unary(.exp), [y], name: "exp")
        let plan = try ExecutionPlan(graph: finish(&b, y, dims: [nil, 4, 3, 3]), options: PlanOptions(threads: 1))
        XCTAssertEqual(plan.perElementSwiftSteps, ["Pow square", "Exp exp"])
    }

    func testResultsDoNotDependOnThreadCountOrBatchSplit() throws {
        let graph = try ModelLoader.optimize(ResNetSmall.graph())
        let x = rng.tensor([5, 3, 32, 32])
        let one = try ExecutionPlan(graph: graph, options: PlanOptions(threads: 1)).run(["x": x])["y"]!.floats!
        let two = try ExecutionPlan(graph: graph, options: PlanOptions(threads: 2)).run(["x": x])["y"]!.floats!
        XCTAssertEqual(one, two)
    }
}

/// A small ResNet-like graph with unfused BatchNorm, for whole-model tests.
enum ResNetSmall {
    static func graph() -> Graph {
        var r = TestRandom(seed: 5)
        var b = GraphBuilder(name: "small")
        let x = b.input("x", dims: [nil, 3, 32, 32])
        func bn(_ b: inout GraphBuilder, _ y: String, _ c: Int) -> String {
            b.add(.batchNormalization(epsilon: 1e-5), [y, b.constant("g", r.tensor([c], 0.5, 1)), b.constant("b", r.tensor([c])),
                                                        b.constant("m", r.tensor([c])), b.constant("v", r.tensor([c], 0.5, 1.5))])
        }
        var y = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), group: 1), [x, b.constant("w", r.tensor([8, 3, 3, 3], -0.3, 0.3))])
        y = b.add(.relu, [bn(&b, y, 8)])
        var z = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [y, b.constant("w", r.tensor([8, 8, 3, 3], -0.2, 0.2))])
        z = bn(&b, z, 8)
        y = b.add(.relu, [b.add(.add, [z, y])])
        y = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
        y = b.add(.gemm(GemmAttributes(transB: true)), [y, b.constant("fc", r.tensor([10, 8])), b.constant("fcb", r.tensor([10]))], outputNames: ["y"])
        b.output(y, dims: [nil, 10])
        return b.graph
    }
}
