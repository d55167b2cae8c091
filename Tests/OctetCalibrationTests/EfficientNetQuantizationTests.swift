import Foundation
import OctetTestSupport
import XCTest

/// EfficientNet-Lite0 (real weights) calibrated with KL on the first 250 sample images and
/// evaluated on the other 250, through the same calls the CLI makes.
final class EfficientNetQuantizationTests: XCTestCase {
    func testCalibratedModelStaysAccurateAndRunsInONNXRuntime() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let graph = try ModelLoader.load(path: TestPaths.efficientNet)
        let all = try ImageFolderDataset(directory: TestPaths.imageSample, labels: TestPaths.imageLabels, recipe: .efficientNetLite)
        var config = QuantConfig()
        config.plan = PlanOptions(threads: 2)
        config.samples = 250
        let q = try quantizeModel(graph, calibrationData: all, config: config)
        XCTAssertEqual(q.samples, 250)
        XCTAssertEqual(q.autoExcluded, ["b0_dw", "stem"])
        let heldOut = DatasetSlice(all, range: 250..<500)
        let report = try evaluate(fp32: graph, int8: q.qdq, data: heldOut, batch: 32, options: config.plan)
        let loss = (report.fp32Top1 ?? 0) - (report.int8Top1 ?? 0)
        print("EfficientNet-Lite0 INT8: agreement \(report.agreement ?? -1), top-1 FP32 \(report.fp32Top1!) INT8 \(report.int8Top1!), SQNR \(report.sqnrDB) dB")
        XCTAssertLessThanOrEqual(loss, 0.005, "top-1 must stay within 0.5 points of FP32")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(report.agreement), 0.985, "top-1 agreement with FP32 must be at least 98.5%")

        // ONNX Runtime runs the same QDQ file: at least 99% top-1 agreement with Octet's INT8 executor
        // on the 500 sample images (engine against engine, so the calibration images count too).
        // Octet requantizes with ORT's multiplier order and ORT's QLinearAdd formula (Int8Arithmetic);
        // the remaining 1-LSB differences come from ORT's own integer kernels, which agree with ORT's
        // float evaluation of the same QDQ graph on about as many images (docs/benchmarks.md).
        let model = dir.appendingPathComponent("int8.onnx")
        try ONNXExporter.write(q.qdq, to: model)
        let (_, allLogits) = try evaluateWithLogits(fp32: graph, int8: q.qdq, data: all, batch: 32, options: config.plan)
        let npy = dir.appendingPathComponent("octet_logits.npy").path
        try NPYFile.write(path: npy, shape: [all.count, 1000], values: allLogits)
        guard let ort = try PythonScript.run("ort_qdq_check.py", [TestPaths.efficientNet, model.path, "--images", TestPaths.imageSample,
                                                                  "--octet-logits", npy]) else {
            throw XCTSkip("python3 with onnxruntime, numpy and pillow is not installed: ONNX Runtime cross-check skipped")
        }
        let agreement = try XCTUnwrap(ort["ort_int8_vs_octet_int8_agreement"] as? Double, "\(ort)")
        // Octet's integer engine against ONNX Runtime's float evaluation of the same QDQ graph
        // (the file's meaning): on every CPU.
        let semantics = try XCTUnwrap(ort["octet_int8_vs_ort_fakequant_agreement"] as? Double, "\(ort)")
        XCTAssertGreaterThanOrEqual(semantics, 0.99, "\(ort)")
        if ISA.avx512vnni.isSupported {
            XCTAssertGreaterThanOrEqual(agreement, 0.99, "\(ort)")
        } else {
            // Without VNNI, ONNX Runtime's u8×s8 kernels use vpmaddubsw, whose int16 pair sums
            // saturate with 8-bit weights: its integer result then disagrees with its own float
            // evaluation of the file (measured on an AVX2-only Zen 3: 94% agreement), so it is no
            // reference here. Reported, not asserted.
            print("ONNX Runtime INT8 without VNNI: agreement with Octet \(agreement), with its own float evaluation \(ort["ort_int8_vs_ort_fakequant_agreement"] ?? "?")")
        }
    }
}
