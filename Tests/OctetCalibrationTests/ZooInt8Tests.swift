import Foundation
import OctetTestSupport
import XCTest

/// Every model of `../shared/models/zoo` goes through calibration (kl, the shared images with the
/// model's recipe) to a QDQ model that Octet's INT8 executor runs: every convolution on the
/// integer kernels, the ops without an integer step in FP32 islands that the profile names, and
/// outputs that match ONNX Runtime running the same file on the same inputs.
final class ZooInt8Tests: XCTestCase {
    static let zoo = TestPaths.shared.appendingPathComponent("models/zoo")

    /// Models where Octet and ONNX Runtime INT8 agree less than the 30 dB goal, with the SQNR
    /// measured (64 images) when this was written. Both engines are far from FP32 on these
    /// (PaddlePaddle exports with Clip/Div HardSwish: 13–17 dB and 1 dB), and the cause of the
    /// gap between them is not found yet; the bound keeps it from growing.
    static let openGaps: [String: Double] = ["ppocr_mobile_v2_cls": 12, "ppocrv4_det": 12]

    func testEveryZooModelRunsInt8WithIntegerConvolutionsAndMatchesONNXRuntime() throws {
        try TestPaths.requireShared()
        let models = try FileManager.default.contentsOfDirectory(atPath: Self.zoo.path).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertGreaterThanOrEqual(models.count, 13, "the zoo README lists 13 models")
        let dir = try TestPaths.temporaryDirectory(self)
        var ortMissing = false
        for file in models {
            let name = String(file.dropLast(5))
            let path = Self.zoo.appendingPathComponent(file).path
            let recipe = try PreprocessRecipe.resolve(nil, modelPath: path)
            let data = try ImageFolderDataset(directory: TestPaths.imageSample, recipe: recipe, limit: 6)
            let graph = try ModelLoader.load(path: path)
            var config = QuantConfig()
            config.samples = 4
            config.sensitivitySamples = 2
            config.sensitivityMarginDB = nil   // every convolution quantized
            config.plan = PlanOptions(threads: 2)
            let q = try quantizeModel(graph, calibrationData: data, config: config)
            let int8Path = dir.appendingPathComponent("\(name).int8.onnx").path
            try ONNXExporter.write(q.qdq, to: URL(fileURLWithPath: int8Path))

            // The profile: each convolution on an integer kernel, nothing else of the model in FP32
            // but the named islands.
            let run = try ModelRun(graph: q.qdq, options: PlanOptions(threads: 2))
            let sample = try data.loadShaped(0)
            let labels = try run.plans.plan(for: [run.inputName: Shape([1] + sample.dims)]).makeProfile().labels
            let convs = labels.filter { $0.hasPrefix("conv ") || $0.hasPrefix("dwconv ") }
            // Conv, Gemm and MatMul (the dense layers run as 1x1 convolutions).
            let quantizedConvs = q.qdq.nodes.filter { switch $0.op { case .conv, .gemm, .matMul: true; default: false } }.count
            XCTAssertEqual(convs.count + labels.filter { $0 == "fp32 conv" }.count, quantizedConvs, "\(name): \(labels.filter { $0.contains("conv") })")
            XCTAssertEqual(labels.filter { $0 == "fp32 conv" }, [], "\(name): convolutions in FP32")
            XCTAssertEqual(convs.filter { !$0.contains("[") }, [], "\(name): convolutions on the Swift reference")
            for island in labels.filter({ $0.contains("fp32 island") }) {
                XCTAssertTrue(island.contains("(no integer kernel in Octet)") || island.contains("(not quantized in the model)"), island)
            }

            let inputs = dir.appendingPathComponent("\(name).in.npz").path, outputs = dir.appendingPathComponent("\(name).out.npz").path
            _ = try evaluateWithLogits(fp32: graph, int8: q.qdq, data: data, batch: 3, options: PlanOptions(threads: 2),
                                       saveOutputs: try NPZWriter(path: outputs), saveInputs: try NPZWriter(path: inputs))
            guard let result = try PythonScript.run("ort_zoo_check.py", [path, int8Path, inputs, outputs]) else {
                ortMissing = true
                continue
            }
            let compared = try XCTUnwrap(result["outputs"] as? [String: [String: Double]], "\(name): ort_zoo_check.py failed")
            XCTAssertEqual(Set(compared.keys), Set(graph.outputs.map(\.name)), name)
            for (output, e) in compared {
                let sqnr = try XCTUnwrap(e["octet_vs_ort_int8_sqnr_db"])
                XCTAssertGreaterThanOrEqual(sqnr, Self.openGaps[name] ?? 30, "\(name) output \(output): Octet INT8 vs ONNX Runtime INT8")
            }
        }
        if ortMissing { throw XCTSkip("python3 with onnxruntime and numpy is not installed: the ONNX Runtime comparison was skipped (Octet's side ran)") }
    }
}
