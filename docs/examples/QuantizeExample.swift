// Using Octet as a library: calibrate an FP32 ONNX model on images, write the INT8 QDQ model,
// and run INT8 inference. This file is compiled and run by `swift test` (target OctetExamples).
//
// In your Package.swift:
//   .package(url: "https://github.com/<you>/octet", branch: "main")
//   .product(name: "Octet", package: "octet")
import Foundation
import OctetPipeline
import XCTest

final class QuantizeExample: XCTestCase {
    func testQuantizeAndDeploy() throws {
        // 1. An FP32 model: any ONNX file (`ModelLoader.load(path:)`); here the zoo's ResNet-18.
        let model = ResNet.build(.resnet18)

        // 2. Calibration data: a folder of images with a preprocessing recipe, or a .npy tensor.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-example-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let count = 2 * 3 * 224 * 224
        let samples: [Float] = (0..<count).map { (i: Int) -> Float in Float((i * 7919) % 255) / 127.5 - 1 }
        try NPYFile.write(path: dir.appendingPathComponent("calib.npy").path, shape: [2, 3, 224, 224], values: samples)
        let data = try NPYDataset(path: dir.appendingPathComponent("calib.npy").path)

        // 3. Quantize: histograms, KL thresholds, per-channel s8 weights, s32 biases, QDQ graph.
        var config = QuantConfig()
        config.method = .kl
        let quantized = try quantizeModel(model, calibrationData: data, config: config)
        try ONNXExporter.write(quantized.qdq, to: dir.appendingPathComponent("resnet18.int8.onnx"))

        // 4. Deploy and run a batch.
        let session = try deployQuantizedModel(quantized, threads: 2)
        let logits = try session.run(try Tensor(shape: [2, 3, 224, 224], floats: samples))
        XCTAssertEqual(logits.shape, [2, 1000])
    }
}
