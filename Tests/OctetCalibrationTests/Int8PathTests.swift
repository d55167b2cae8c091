import Foundation
import OctetTestSupport
import XCTest

/// Every INT8 kernel path (forced one by one) against the plain-Swift reference executor:
/// logits must be bit-identical.
final class Int8PathTests: XCTestCase {
    func check(_ qdq: Graph, input: Tensor, inputName: String = "input", file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Int8Plan(graph: qdq, threads: 2, isa: nil).run([inputName: input])
        for isa in ISA.supported {
            // The plan keeps its worker arenas between runs: a run before leaves nothing behind.
            let plan = try Int8Plan(graph: qdq, threads: 2, isa: isa)
            _ = try plan.run([inputName: Tensor(shape: input.shape, floats: input.floats!.map { -$0 * 3 })])
            let fast = try plan.run([inputName: input])
            // One thread: every image reaches the classifier, which then runs once over all of them.
            let batchedHead = try Int8Plan(graph: qdq, threads: 1, isa: isa).run([inputName: input])
            for (name, t) in reference {
                XCTAssertEqual(fast[name]?.floats, t.floats, "\(isa) output \(name)", file: file, line: line)
                XCTAssertEqual(batchedHead[name]?.floats, t.floats, "\(isa) one thread, output \(name)", file: file, line: line)
            }
        }
        // Latency mode (one image, convolutions split across 3 threads) gives the same bytes.
        let one = try Tensor(shape: Shape([1] + Array(input.shape.dims.dropFirst())),
                             floats: Array(input.floats!.prefix(input.shape.elementCount / input.shape[0])))
        let single = try Int8Plan(graph: qdq, threads: 1, isa: nil).run([inputName: one])
        for isa in ISA.supported {
            let split = try Int8Plan(graph: qdq, threads: 3, isa: isa).run([inputName: one])
            for (name, t) in single {
                XCTAssertEqual(split[name]?.floats, t.floats, "\(isa) latency mode output \(name)", file: file, line: line)
            }
        }
    }

    /// Every path runs its own kernel whatever the weights; the vpmaddubsw paths run 8-bit ones
    /// widened to 16 bits (vpmaddwd), and split in two halves when forced.
    func testPathChoiceFollowsWeightWidth() {
        let g = ConvGeometry(inHeight: 4, inWidth: 4, inPixelStride: 8, outHeight: 4, outWidth: 4, outPixelStride: 16,
                             kernel: (1, 1), inChannelsPerGroup: 8, outChannelsPerGroup: 16)
        let out = Int8ConvKernel.Output.quantized(multipliers: Array(repeating: 0.01, count: 16), zeroPoint: 0, lo: 0, hi: 255)
        for isa in ISA.supported {
            let seven = Int8ConvKernel(geometry: g, inputZeroPoint: 0, weights: Array(repeating: 63, count: 128), bias: [], output: out, isa: isa)
            XCTAssertEqual(seven.isa, isa)
            let eight = Int8ConvKernel(geometry: g, inputZeroPoint: 0, weights: Array(repeating: -64, count: 128), bias: [], output: out, isa: isa)
            XCTAssertEqual(eight.isa, isa)
            XCTAssertEqual(eight.weightFormat, isa == .avx512 || isa == .avx2 ? .widened : .plain)
            if Int8ConvKernel.readsWeights(.split, isa: isa) {
                let forced = Int8ConvKernel(geometry: g, inputZeroPoint: 0, weights: Array(repeating: -64, count: 128), bias: [], output: out,
                                            isa: isa, weightFormat: .split)
                XCTAssertEqual(forced.weightFormat, .split)
            }
            XCTAssertEqual(seven.weightFormat, .plain)
        }
    }

    func testTinyModelAllPathsBothWeightWidths() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 31)
        let path = dir.appendingPathComponent("d.npy").path
        try NPYFile.write(path: path, shape: [6, 3, 12, 12], values: r.floats(6 * 3 * 12 * 12))
        for bits in [8, 7] {
            var config = QuantConfig()
            config.quantize.weightBits = bits
            config.sensitivityMarginDB = nil
            let q = try quantizeModel(QuantizationTests.model(), calibrationData: try NPYDataset(path: path), config: config)
            try check(q.qdq, input: r.tensor([5, 3, 12, 12]))
        }
    }

    /// A QDQ model with signed (int8) activations, ONNX Runtime's default, runs as its unsigned
    /// twin shifted by 128: the same logits on every path.
    func testSignedActivationsGiveTheUnsignedTwinsLogits() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var r = TestRandom(seed: 32)
        let path = dir.appendingPathComponent("d.npy").path
        try NPYFile.write(path: path, shape: [6, 3, 12, 12], values: r.floats(6 * 3 * 12 * 12))
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        let unsigned = try quantizeModel(QuantizationTests.model(), calibrationData: try NPYDataset(path: path), config: config).qdq
        var signed = unsigned
        var converted = 0
        for node in unsigned.nodes where node.inputs.count > 2 {
            let activation: Bool
            switch node.op {
            case .quantizeLinear: activation = true
            case .dequantizeLinear: activation = unsigned.initializers[node.inputs[0]] == nil
            default: activation = false
            }
            guard activation, let zp = unsigned.initializers[node.inputs[2]], case .uint8(let z) = zp.data else { continue }
            signed.initializers[node.inputs[2]] = try Tensor(shape: zp.shape, data: .int8(z.map { Int8(Int($0) - 128) }))
            converted += 1
        }
        XCTAssertGreaterThan(converted, 4)
        let input = r.tensor([3, 3, 12, 12])
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let a = try Int8Plan(graph: unsigned, threads: 2, isa: isa).run(["input": input])
            let b = try Int8Plan(graph: signed, threads: 2, isa: isa).run(["input": input])
            XCTAssertFalse(a.isEmpty)
            for (name, t) in a { XCTAssertEqual(b[name]?.floats, t.floats, "\(isa.map(\.rawValue) ?? "reference") \(name)") }
        }
    }

    func testResNet18SevenBitAndEfficientNetOnRealImages() throws {
        try TestPaths.requireShared()
        let images = try ImageFolderDataset(directory: TestPaths.imageSample, recipe: .efficientNetLite, limit: 3)
        var x: [Float] = []
        for i in 0..<images.count { x += try images.load(i) }
        let input = try Tensor(shape: [3, 3, 224, 224], floats: x)
        var config = QuantConfig()
        config.samples = 3
        let eff = try quantizeModel(try ModelLoader.load(path: TestPaths.efficientNet), calibrationData: images, config: config)
        try check(eff.qdq, input: input)
        // ResNet-18 with 7-bit weights: the vpmaddubsw (Skylake) paths run for real.
        config.quantize.weightBits = 7
        config.sensitivityMarginDB = nil
        let resnet = try quantizeModel(ResNet.build(.resnet18), calibrationData: images, config: config)
        try check(resnet.qdq, input: input)
        // Both classifiers run once per thread's images on every C kernel path (not on the reference).
        for isa in ISA.supported {
            XCTAssertTrue(try Int8Plan(graph: eff.qdq, isa: isa).batchesClassifier, "\(isa)")
            XCTAssertTrue(try Int8Plan(graph: resnet.qdq, isa: isa).batchesClassifier, "\(isa)")
        }
        XCTAssertFalse(try Int8Plan(graph: resnet.qdq, isa: nil).batchesClassifier)
        // u8 and float tensors share one arena planned by liveness: far less than every tensor's own memory.
        let plan = try Int8Plan(graph: resnet.qdq)
        XCTAssertLessThan(plan.arenaFloats * 2, plan.tensorFloats, "arena \(plan.arenaFloats) floats, tensors \(plan.tensorFloats)")
        // No convolution of the 8-bit EfficientNet-Lite0 falls to the scalar kernel on a SIMD path:
        // the vpmaddubsw paths run the 8-bit weights split or widened, the 7-bit ResNet-18 as they are.
        let one224 = try Tensor(shape: [1, 3, 224, 224], floats: Array(x.prefix(3 * 224 * 224)))
        for isa in ISA.supported where isa != .scalar {
            let convs = try Int8Plan(graph: eff.qdq, isa: isa).profile(["input": one224], images: 1).map(\.label).filter { $0.contains("conv ") }
            XCTAssertFalse(convs.isEmpty)
            XCTAssertTrue(convs.allSatisfy { $0.contains("[\(isa.rawValue)") }, "\(isa): \(convs.filter { !$0.contains("[\(isa.rawValue)") })")
            let split = convs.filter { $0.contains("8-bit split") }.count, widened = convs.filter { $0.contains("8-bit s16") }.count
            XCTAssertEqual(split, 0, "\(isa)")
            XCTAssertEqual(widened > 0, isa == .avx512 || isa == .avx2, "\(isa)")
            // Widened weights run the s16 microkernels, named for their own tile.
            if widened > 0, let s16 = isa.gemmMicrokernel(.widened) {
                XCTAssertTrue(s16.contains("c4_s16__"), s16)
                XCTAssertTrue(convs.filter { $0.contains("8-bit s16") }.allSatisfy { $0.contains(s16) }, "\(isa): \(convs)")
            } else if widened > 0 {
                XCTFail("\(isa) widens weights but names no s16 microkernel")
            }
            let resnetConvs = try Int8Plan(graph: resnet.qdq, isa: isa).profile(["input": one224], images: 1).map(\.label)
            XCTAssertFalse(resnetConvs.contains { $0.contains("8-bit") || $0.contains("[scalar") }, "\(isa)")
            // The profile names the path's GEMM microkernel (dtype, op, tile, ISA).
            let dense = resnetConvs.filter { $0.hasPrefix("conv ") }
            XCTAssertTrue(!dense.isEmpty && dense.allSatisfy { $0.contains("[\(isa.rawValue) \(isa.gemmMicrokernel)") }, "\(isa): \(dense)")
            XCTAssertTrue(isa.gemmMicrokernel.hasPrefix("qu8s8_gemm_") && isa.gemmMicrokernel.hasSuffix(isa == .avx512 ? "__avx512bw" : "__\(isa.rawValue)"),
                          isa.gemmMicrokernel)
        }
        // The 8 residual Adds run inside the convolutions on every path (the shared GEMM driver
        // fuses them; the scalar twin does too).
        let one = try Tensor(shape: [1, 3, 224, 224], floats: Array(x.prefix(3 * 224 * 224)))
        for isa in ISA.supported {
            let steps = try Int8Plan(graph: resnet.qdq, isa: isa).profile(["input": one], images: 1).map(\.label)
            let fused = steps.filter { $0.contains("+ add [") }.count, separate = steps.filter { $0 == "add" }.count
            XCTAssertEqual(fused, 8, "\(isa)")
            XCTAssertEqual(fused + separate, 8, "\(isa)")
        }
    }
}
