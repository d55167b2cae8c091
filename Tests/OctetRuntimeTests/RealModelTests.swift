import Foundation
import OctetTestSupport
import XCTest

/// The executor on real models against ONNX Runtime references (scripts/make_reference_outputs.py).
final class RealModelTests: XCTestCase {
    func inputs(_ images: [String], _ recipe: PreprocessRecipe) throws -> Tensor {
        let values = try images.flatMap { name in
            recipe.apply(try ImageDecoder.decode(contentsOf: TestPaths.imageSample + "/" + name))
        }
        return try Tensor(shape: [images.count, 3, 224, 224], floats: values)
    }

    func check(_ graph: Graph, reference: String, recipe: PreprocessRecipe) throws {
        let ref = try TestPaths.fixture(reference, as: ReferenceLogits.self)
        let x = try inputs(ref.images, recipe)
        for isa in ISA.supported {
            let plan = try ExecutionPlan(graph: try ModelLoader.optimize(graph), options: PlanOptions(isa: isa, threads: 2))
            let out = try plan.run([graph.inputs[0].name: x])[graph.outputs[0].name]!.floats!
            for (i, row) in ref.logits.enumerated() {
                let got = Array(out[(i * 1000)..<((i + 1) * 1000)])
                let err = maxRelativeError(got, row)
                XCTAssertLessThanOrEqual(err, 1e-3, "\(reference) image \(ref.images[i]) isa \(isa)")
                XCTAssertEqual(TopK.indices(got, k: 1), TopK.indices(row, k: 1), "\(ref.images[i]) isa \(isa)")
            }
        }
    }

    func testEfficientNetLite0LogitsMatchONNXRuntime() throws {
        try TestPaths.requireShared()
        try check(try ONNXImporter.load(contentsOf: URL(fileURLWithPath: TestPaths.efficientNet)),
                  reference: "efficientnet_lite0_reference.json", recipe: .efficientNetLite)
    }

    func testResNet18LogitsMatchONNXRuntime() throws {
        try TestPaths.requireShared()
        try check(ResNet.build(.resnet18), reference: "resnet18_reference.json", recipe: .imagenet)
    }

    struct Accuracy: Decodable { var images: Int; var top1: Double; var top5: Double }

    func testEfficientNetLite0Top1WithinPointThreeOfONNXRuntime() throws {
        try TestPaths.requireShared()
        let ort = try TestPaths.fixture("efficientnet_lite0_ort_accuracy.json", as: Accuracy.self)
        let graph = try ModelLoader.load(path: TestPaths.efficientNet)
        let dataset = try ImageFolderDataset(directory: TestPaths.imageSample, labels: TestPaths.imageLabels, recipe: .efficientNetLite)
        let report = try ClassificationRun(graph: graph, options: PlanOptions(threads: 2)).evaluate(dataset, batch: 32)
        XCTAssertEqual(report.images, ort.images)
        XCTAssertLessThanOrEqual(abs(report.top1! - ort.top1), 0.003, "octet \(report.top1!) vs ONNX Runtime \(ort.top1)")
    }
}
