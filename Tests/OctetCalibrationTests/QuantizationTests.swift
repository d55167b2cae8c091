import Foundation
import OctetTestSupport
import XCTest

/// The quantize pass, the INT8 reference executor and whole calibrations on small models.
final class QuantizationTests: XCTestCase {
    /// A small CNN with both signed and non-negative tensors, a residual Add and a classifier.
    static func model() -> Graph {
        var r = TestRandom(seed: 12)
        var b = GraphBuilder(name: "tiny")
        let x = b.input("input", dims: [nil, 3, 12, 12])
        var y = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), group: 1),
                      [x, b.constant("w1", r.tensor([8, 3, 3, 3], -0.5, 0.5)), b.constant("b1", r.tensor([8], -0.1, 0.1))], name: "conv1")
        y = b.add(.relu, [y], name: "relu1")
        var z = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 8), [y, b.constant("wd", r.tensor([8, 1, 3, 3], -0.5, 0.5))], name: "dw")
        z = b.add(.clip(min: 0, max: 6), [z], name: "clip")
        z = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [z, b.constant("wp", r.tensor([8, 8, 1, 1], -0.5, 0.5))], name: "project")
        y = b.add(.add, [z, y], name: "residual")
        y = b.add(.maxPool(Window2D(kernel: [2, 2], strides: [2, 2]), ceilMode: false), [y], name: "pool")
        y = b.add(.globalAveragePool, [y], name: "gap")
        y = b.add(.flatten(axis: 1), [y], name: "flat")
        y = b.add(.gemm(GemmAttributes(transB: true)), [y, b.constant("fc", r.tensor([5, 8])), b.constant("fcb", r.tensor([5]))],
                  name: "fc", outputNames: ["logits"])
        b.output(y, dims: [nil, 5])
        return b.graph
    }

    func data(_ n: Int, seed: UInt64, dir: URL) throws -> NPYDataset {
        var r = TestRandom(seed: seed)
        let path = dir.appendingPathComponent("d\(seed).npy").path
        try NPYFile.write(path: path, shape: [n, 3, 12, 12], values: r.floats(n * 3 * 12 * 12, -1, 1))
        return try NPYDataset(path: path)
    }

    func testQDQStructureFollowsTheConventions() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(Self.model(), calibrationData: try data(6, seed: 1, dir: dir), config: config)
        let counts = q.qdq.opCounts
        // Activations: input, relu1, clip, project, residual, pool, gap, flat (the fc output stays FP32;
        // conv1's raw output is not a quantization point: its Relu fuses into the integer conv).
        XCTAssertEqual(q.table.entries.map(\.tensor),
                       ["clip_out", "flat_out", "gap_out", "input", "pool_out", "project_out", "relu1_out", "residual_out"])
        XCTAssertEqual(counts["QuantizeLinear"], q.table.entries.count)
        // One DequantizeLinear per activation, per weight (4) and per bias (4: bias correction gives
        // the bias-less dw and project convolutions a bias).
        XCTAssertEqual(counts["DequantizeLinear"], q.table.entries.count + 4 + 4)
        XCTAssertEqual(q.table["relu1_out"]?.nonNegative, true)
        XCTAssertEqual(q.table["relu1_out"]?.params.zeroPoint, 0)
        XCTAssertEqual(q.table["project_out"]?.nonNegative, false)
        XCTAssertEqual(q.table["project_out"]?.params.zeroPoint, 128)
        // The QDQ graph survives ONNX export/import, and re-quantizing it is refused.
        let back = try ONNXImporter.load(data: try ONNXExporter.serialize(q.qdq))
        XCTAssertEqual(back.nodes, q.qdq.nodes)
        XCTAssertThrowsError(try quantizeModel(back, calibrationData: try data(2, seed: 1, dir: dir), config: config)) {
            XCTAssertTrue("\($0)".contains("already quantized"), "\($0)")
        }
    }

    /// Calibration output is bit-identical whatever the threads and batch size (the sharding of
    /// the work), for a given kernel path. (Different paths sum FP32 products in different
    /// orders, so their activations, and hence histograms, may differ in the last bits.)
    func testCalibrationIsDeterministic() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let d = try data(11, seed: 2, dir: dir)
        for isa in ISA.supported { try checkDeterminism(d, isa: isa) }
    }

    func checkDeterminism(_ d: NPYDataset, isa: ISA) throws {
        var outputs: [Data] = []
        var tables: [CalibrationTable] = []
        for (threads, batch) in [(1, 11), (2, 3), (2, 1), (1, 4)] {
            var config = QuantConfig()
            config.plan = PlanOptions(isa: isa, threads: threads)
            config.batch = batch
            let q = try quantizeModel(Self.model(), calibrationData: d, config: config)
            tables.append(q.table)
            outputs.append(try ONNXExporter.serialize(q.qdq))
        }
        for i in 1..<tables.count {
            XCTAssertEqual(tables[i], tables[0], "\(isa) configuration \(i)")
            XCTAssertEqual(outputs[i], outputs[0], "\(isa) configuration \(i)")
        }
    }

    /// The integer executor against float fake-quantization of the same QDQ graph (the reference
    /// interpreter): they differ only by integer vs float rounding, at most a few quantization steps.
    func testInt8ExecutorMatchesFakeQuantization() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(Self.model(), calibrationData: try data(8, seed: 3, dir: dir), config: config)
        var r = TestRandom(seed: 4)
        let x = r.tensor([6, 3, 12, 12])
        let int8 = try Int8Plan(graph: q.qdq, threads: 2).run(["input": x])["logits"]!.floats!
        let fake = try ReferenceInterpreter.run(q.qdq, inputs: ["input": x])["logits"]!.floats!
        let fp32 = try ReferenceInterpreter.run(q.fp32, inputs: ["input": x])["logits"]!.floats!
        XCTAssertLessThan(maxRelativeError(int8, fake), 0.05)
        XCTAssertLessThan(maxRelativeError(int8, fp32), 0.1)
        // Threads do not change the result.
        XCTAssertEqual(try Int8Plan(graph: q.qdq, threads: 1).run(["input": x])["logits"]!.floats!, int8)
    }

    func testNonFiniteActivationsAreCountedNotBinned() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var gen = TestRandom(seed: 5)
        var values = gen.floats(4 * 3 * 12 * 12)
        values[7] = .nan; values[100] = .infinity; values[500] = -.infinity
        let path = dir.appendingPathComponent("nan.npy").path
        try NPYFile.write(path: path, shape: [4, 3, 12, 12], values: values)
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(Self.model(), calibrationData: try NPYDataset(path: path), config: config)
        XCTAssertEqual(q.table["input"]?.nonFinite, 3)
        XCTAssertTrue(q.table.entries.allSatisfy { $0.threshold.isFinite && $0.params.scale.isFinite })
    }

    func testConstantImagesStillGiveAUsableModel() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let path = dir.appendingPathComponent("flat.npy").path
        try NPYFile.write(path: path, shape: [3, 3, 12, 12], values: Array(repeating: 0, count: 3 * 3 * 12 * 12))
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(Self.model(), calibrationData: try NPYDataset(path: path), config: config)
        XCTAssertTrue(q.table.entries.allSatisfy { $0.params.scale > 0 && $0.params.scale.isFinite })
        let out = try Int8Plan(graph: q.qdq).run(["input": Tensor.filled([1, 3, 12, 12], 0)])["logits"]!.floats!
        XCTAssertTrue(out.allSatisfy(\.isFinite))
    }

    /// Weights stored in float and quantized in the graph (NNCF's ONNX output: W → QuantizeLinear →
    /// DequantizeLinear → Conv) run as the same int8 weights: every weight DequantizeLinear of
    /// Octet's file rewritten that way gives bit-identical outputs on every path.
    func testWeightsQuantizedInTheGraphRunAsStoredCodes() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 1)
        let q = try quantizeModel(Self.model(), calibrationData: try data(6, seed: 7, dir: dir), config: config)
        var foreign = q.qdq
        foreign.nodes = []
        var rewritten = 0
        for node in q.qdq.nodes {
            guard case .dequantizeLinear(let axis) = node.op, let codes = q.qdq.initializers[node.inputs[0]], codes.dtype == .int8,
                  let scales = q.qdq.initializers[node.inputs[1]]?.floats else { foreign.nodes.append(node); continue }
            // The float weights whose quantization gives exactly these codes.
            let c = codes.data.doubles
            let inner = scales.count == 1 ? c.count : codes.shape.dims[(axis + 1)...].reduce(1, *)
            let w = c.indices.map { Float(c[$0]) * scales[scales.count == 1 ? 0 : ($0 / inner) % scales.count] }
            let floatName = node.inputs[0] + "_float", quantizedName = node.inputs[0] + "_requantized"
            foreign.initializers[floatName] = try Tensor(shape: codes.shape, floats: w)
            foreign.nodes.append(Node(name: node.name + "_Q", op: .quantizeLinear(axis: axis), inputs: [floatName] + node.inputs.dropFirst(),
                                      outputs: [quantizedName]))
            var dq = node
            dq.inputs[0] = quantizedName
            foreign.nodes.append(dq)
            foreign.initializers[node.inputs[0]] = nil
            rewritten += 1
        }
        XCTAssertEqual(rewritten, 4, "four weighted layers")
        var r = TestRandom(seed: 8)
        let x = r.tensor([3, 3, 12, 12])
        for isa in [nil] + ISA.supported.map(Optional.some) {
            XCTAssertEqual(try Int8Plan(graph: foreign, threads: 2, isa: isa).run(["input": x])["logits"]?.floats,
                           try Int8Plan(graph: q.qdq, threads: 2, isa: isa).run(["input": x])["logits"]?.floats, "\(isa?.rawValue ?? "swift")")
        }
    }
}
