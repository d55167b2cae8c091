import Foundation
import OctetIR
import OctetONNX
import OctetPipeline
import OctetTestSupport

/// Models the cluster tests run.
enum TestModels {
    /// A quick INT8 model of EfficientNet-Lite0: max calibration on 4 images, no sensitivity
    /// analysis, no bias correction. Written to `dir/m.int8.onnx`.
    static func quickInt8Model(in dir: URL) throws -> (path: String, qdq: Graph) {
        var config = QuantConfig()
        config.samples = 4
        config.method = .max
        config.sensitivityMarginDB = nil
        config.biasCorrection = false
        config.plan = PlanOptions(isa: .best, threads: 2)
        let data = try openDataset(path: TestPaths.imageSample, labels: TestPaths.imageLabels, recipe: .efficientNetLite, limit: 4)
        let q = try quantizeModel(try ModelLoader.load(path: TestPaths.efficientNet), calibrationData: data, config: config)
        let model = dir.appendingPathComponent("m.int8.onnx")
        try ONNXExporter.write(q.qdq, to: model)
        return (model.path, q.qdq)
    }
}
