import Foundation
import OctetTestSupport
import XCTest

/// Every model of `../shared/models/zoo` runs through `ModelRun` (what `octet run` calls) on the
/// real images with its recipe, and every output equals ONNX Runtime FP32's on the same
/// preprocessed input within 1e-4 relative (max |Δ| / max |reference|); models with a symbolic
/// height/width also at a second input size. One test per kernel path; a path the CPU lacks is
/// skipped with the reason.
final class ZooModelTests: XCTestCase {
    static let zoo = TestPaths.shared.appendingPathComponent("models/zoo")

    /// A second input size (recipe changes) for the models whose height and width are symbolic.
    static let secondSize: [String: @Sendable (inout PreprocessRecipe) -> Void] = [
        // 480×640 (sides multiples of 32) crops of these images contain text: the probability map is not
        // all ~1e-5, where ONNX Runtime's approximate Sigmoid (about 1e-7 absolute error) would dominate.
        "ppocrv4_det": { $0.resizeShorter = 480; $0.crop = nil; $0.cropSize = [480, 640] },
        "ppocr_mobile_v2_cls": { $0.resizeShorter = nil; $0.crop = nil; $0.resizeTo = [48, 192] },
        "mtcnn_pnet": { $0.resizeShorter = 120; $0.crop = nil; $0.cropSize = [120, 160] },
    ]

    func testEveryZooModelMatchesONNXRuntimeAVX512() throws { try check(.avx512, images: 3) }
    func testEveryZooModelMatchesONNXRuntimeAVX2() throws { try check(.avx2, images: 3) }
    func testEveryZooModelMatchesONNXRuntimeScalar() throws { try check(.scalar, images: 1, secondSizes: false) }

    func check(_ isa: ISA, images: Int, secondSizes: Bool = true) throws {
        try TestPaths.requireShared()
        try XCTSkipUnless(isa.isSupported, "this CPU lacks the \(isa) path (FP32 kernels need \(isa == .avx2 ? "AVX2+FMA" : "AVX-512F"))")
        let models = try FileManager.default.contentsOfDirectory(atPath: Self.zoo.path).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertGreaterThanOrEqual(models.count, 13, "the zoo README lists 13 models")
        let dir = try TestPaths.temporaryDirectory(self)
        var compared = 0
        for file in models {
            let name = String(file.dropLast(5))
            let path = Self.zoo.appendingPathComponent(file).path
            let base = try PreprocessRecipe.resolve(nil, modelPath: path)
            var recipes = [base]
            if secondSizes, let change = Self.secondSize[name] { var r = base; change(&r); recipes.append(r) }
            let graph = try ModelLoader.load(path: path)
            let run = try ModelRun(graph: graph, options: PlanOptions(isa: isa, threads: 2))
            for (k, recipe) in recipes.enumerated() {
                let dataset = try ImageFolderDataset(directory: TestPaths.imageSample, recipe: recipe, limit: images)
                // The exact input Octet computes from the images, for ONNX Runtime.
                let samples = try (0..<images).map { try dataset.loadShaped($0) }
                let input = dir.appendingPathComponent("\(name)-\(k).npy").path
                try NPYFile.write(path: input, shape: [images] + samples[0].dims, values: samples.flatMap(\.values))
                let octet = dir.appendingPathComponent("\(name)-\(k)-\(isa).npz").path
                let report = try run.evaluate(dataset, batch: 2, saveOutputs: try NPZWriter(path: octet))
                XCTAssertEqual(report.images, images)
                // No element-wise step of a zoo model falls back to a Swift loop per element.
                let plan = try run.plans.plan(for: [run.inputName: Shape([1] + samples[0].dims)])
                XCTAssertEqual(plan.perElementSwiftSteps, [], "\(name) on \(isa): element-wise steps without a C kernel")
                guard let result = try PythonScript.run("ort_compare.py", [path, input, octet]) else {
                    throw XCTSkip("python3 with onnxruntime, numpy and pillow is not installed: ONNX Runtime comparison skipped")
                }
                let outputs = try XCTUnwrap(result["outputs"] as? [String: [String: Any]], "\(name): ort_compare.py failed")
                XCTAssertEqual(Set(outputs.keys), Set(graph.outputs.map(\.name)), name)
                for (output, e) in outputs {
                    let label = "\(name) [\(samples[0].dims)] output \(output) on \(isa)"
                    XCTAssertEqual(e["octet_shape"] as? [Int], e["shape"] as? [Int], label)
                    XCTAssertEqual(e["nonfinite"] as? Int, 0, label)
                    let rel = try XCTUnwrap(e["relative"] as? Double, label)
                    XCTAssertLessThanOrEqual(rel, 1e-4, label)
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 0)
    }
}
