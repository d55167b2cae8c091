import Foundation
import OctetTestSupport
import XCTest

/// A small model's images run layer by layer in groups (`imagesPerGroup` > 1: each step over a
/// group of images, each in its own arena, before the next step): every image's output has the
/// bits of that image run alone, for FP32 and INT8 plans on every path, 1 and 2 threads, batches
/// that end mid-group, with a spatial output (no batched tail) and with a classifier head (the
/// batched tail gathers its rows from the group's arenas). A squeeze-excitation block's 1×1
/// layers run once over every image of a group (`ConvAcrossImages`) on the C paths.
final class LayerMajorGroupTests: XCTestCase {
    func model(head: Bool) -> Graph {
        var b = GraphBuilder(name: head ? "grouped-head" : "grouped")
        let x = b.input("x", dims: [nil, 3, 9, 10])
        var r = TestRandom(seed: 31)
        func conv(_ v: String, _ cin: Int, _ cout: Int, group: Int = 1, kernel: Int = 3, _ name: String) -> String {
            let pad = kernel / 2
            return b.add(.conv(Window2D(kernel: [kernel, kernel], pads: [pad, pad, pad, pad]), group: group),
                         [v, b.constant(name + "_w", r.tensor(Shape([cout, cin / group, kernel, kernel]), -0.5, 0.5)),
                          b.constant(name + "_b", r.tensor(Shape([cout]), -0.2, 0.2))], name: name)
        }
        let a = b.add(.relu, [conv(x, 3, 16, "stem")])
        let d = b.add(.unary(.hardSwish), [conv(a, 16, 16, group: 16, "dw")])
        // Squeeze-excitation: global pool, 16 -> 4 -> 16 fully connected layers on a 1x1 map,
        // a table activation, the per-channel gate.
        let squeezed = b.add(.globalAveragePool, [d])
        let gate = b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [conv(b.add(.relu, [conv(squeezed, 16, 4, kernel: 1, "se_reduce")]), 4, 16, kernel: 1, "se_expand")])
        let excited = b.add(.mul, [d, gate])
        let y = b.add(.add, [conv(excited, 16, 16, kernel: 1, "project"), a])
        guard head else {
            b.output(y, dims: [nil, 16, 9, 10])
            return b.graph
        }
        let pooled = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
        b.output(b.add(.gemm(GemmAttributes(transB: true)), [pooled, b.constant("fc_w", r.tensor([5, 16])), b.constant("fc_b", r.tensor([5]))],
                       name: "fc"), dims: [nil, 5])
        return b.graph
    }

    /// Fails naming the first element whose bits differ (not printing a thousand of each).
    func assertSameBits(_ alone: [Float], _ inBatch: ArraySlice<Float>, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(alone.count, inBatch.count, label, file: file, line: line)
        guard alone.count == inBatch.count else { return }
        if let i = alone.indices.first(where: { alone[$0].bitPattern != inBatch[inBatch.startIndex + $0].bitPattern }) {
            XCTFail("\(label): element \(i) is \(alone[i]) alone, \(inBatch[inBatch.startIndex + i]) in the batch", file: file, line: line)
        }
    }

    /// Calibrates `graph` (input "x" of `shape` per image) on random images, then on every path
    /// (and the plain-Swift INT8 reference), 1 and 2 threads, runs `batch` images through its INT8
    /// and FP32 plans: each image's output must have the bits of that image run alone. `expect`
    /// checks each pair of plans first (FP32 nil for the reference).
    func assertEveryImageHasTheBitsOfItselfAlone(_ graph: Graph, shape: [Int], batch: Int, seed: UInt64,
                                                 expect: (Int8Plan, ExecutionPlan?, String) -> Void) throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: seed)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [4] + shape, values: r.tensor(Shape([4] + shape), -2, 2).floats!)
        let perImage = shape.reduce(1, *)
        let input = r.tensor(Shape([batch] + shape), -2, 2)
        let values = try XCTUnwrap(input.floats)
        func image(_ i: Int) throws -> Tensor { try Tensor(shape: Shape([1] + shape), floats: Array(values[(i * perImage)..<((i + 1) * perImage)])) }
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        let q = try quantizeModel(graph, calibrationData: try NPYDataset(path: npy), config: config)
        let output = q.qdq.outputs[0].name, fp32Output = q.fp32.outputs[0].name
        for threads in [1, 2] {
            for isa in [nil] + ISA.supported.map(Optional.some) {
                let label = "\(graph.name) \(isa?.rawValue ?? "swift") \(threads) threads"
                let int8 = try Int8Plan(graph: q.qdq, threads: threads, isa: isa)
                let fp32 = try isa.map { try ExecutionPlan(graph: q.fp32, options: PlanOptions(isa: $0, threads: threads)) }
                expect(int8, fp32, label)
                let all = try XCTUnwrap(int8.run(["x": input])[output]?.floats, label)
                let outCount = all.count / batch
                for i in 0..<batch {
                    let alone = try XCTUnwrap(int8.run(["x": try image(i)])[output]?.floats)
                    assertSameBits(alone, all[(i * outCount)..<((i + 1) * outCount)], "INT8 \(label) image \(i)")
                }
                guard let fp32 else { continue }
                let floats = try XCTUnwrap(fp32.run(["x": input])[fp32Output]?.floats, label)
                for i in 0..<batch {
                    let alone = try XCTUnwrap(fp32.run(["x": try image(i)])[fp32Output]?.floats)
                    assertSameBits(alone, floats[(i * outCount)..<((i + 1) * outCount)], "FP32 \(label) image \(i)")
                }
            }
        }
    }

    func testEveryImageOfAGroupHasTheBitsOfTheImageRunAlone() throws {
        for head in [false, true] {
            try assertEveryImageHasTheBitsOfItselfAlone(model(head: head), shape: [3, 9, 10], batch: 11, seed: 32) { int8, fp32, label in
                let reference = fp32 == nil
                XCTAssertGreaterThan(int8.imagesPerGroup, 1, label)
                XCTAssertEqual(int8.batchesClassifier, head && !reference, label)
                XCTAssertEqual(int8.layersAcrossImages.count, reference ? 0 : head ? 3 : 2, "\(label): \(int8.layersAcrossImages)")
                if let fp32 { XCTAssertGreaterThan(fp32.imagesPerGroup, 1, label) }
            }
        }
    }

    /// A model too large for whole-plan groups (a 96×96×32 map) whose last layers are small runs
    /// image by image up to a step, then layer by layer in groups (`layerMajorFromStep`): every
    /// image's output has the bits of that image run alone, FP32 and INT8, every path (and the
    /// INT8 reference), 1 and 2 threads, a batch that ends mid-group, with and without a
    /// classifier head (batched tail).
    func testImagesTurningLayerMajorLateHaveTheBitsOfEachImageAlone() throws {
        func model(head: Bool) -> Graph {
            var b = GraphBuilder(name: head ? "late-head" : "late")
            let x = b.input("x", dims: [nil, 3, 96, 96])
            var r = TestRandom(seed: 41)
            func conv(_ v: String, _ cin: Int, _ cout: Int, stride: Int, _ name: String) -> String {
                b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], strides: [stride, stride], pads: [1, 1, 1, 1]), group: 1),
                                    [v, b.constant(name + "_w", r.tensor(Shape([cout, cin, 3, 3]), -0.3, 0.3)),
                                     b.constant(name + "_b", r.tensor(Shape([cout]), -0.1, 0.1))], name: name)])
            }
            var y = conv(x, 3, 32, stride: 1, "stem")
            y = conv(y, 32, 32, stride: 2, "down1")
            y = conv(y, 32, 48, stride: 2, "down2")
            y = conv(y, 48, 64, stride: 2, "down3")
            y = conv(y, 64, 64, stride: 1, "late1")
            y = conv(y, 64, 64, stride: 1, "late2")
            guard head else {
                b.output(y, dims: [nil, 64, 12, 12])
                return b.graph
            }
            let pooled = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
            b.output(b.add(.gemm(GemmAttributes(transB: true)), [pooled, b.constant("fc_w", r.tensor([7, 64])), b.constant("fc_b", r.tensor([7]))],
                           name: "fc"), dims: [nil, 7])
            return b.graph
        }
        for head in [false, true] {
            try assertEveryImageHasTheBitsOfItselfAlone(model(head: head), shape: [3, 96, 96], batch: 6, seed: 42) { int8, fp32, label in
                XCTAssertEqual(int8.imagesPerGroup, 1, label)
                XCTAssertNotNil(int8.layerMajorFromStep, label)
                if let fp32 {
                    XCTAssertEqual(fp32.imagesPerGroup, 1, label)
                    XCTAssertNotNil(fp32.layerMajorFromStep, label)
                }
            }
        }
    }
}
