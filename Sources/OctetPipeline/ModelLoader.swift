import Foundation
import OctetCore
import OctetIR
import OctetONNX
import OctetPasses
import OctetRuntime

/// Loads ONNX models and prepares them for execution.
public enum ModelLoader {
    /// Imports `path` and runs the FP32 optimization pipeline (Identity removal, constant
    /// folding, BatchNorm folding, dead-node elimination).
    public static func load(path: String) throws -> Graph {
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.unreadable(path: path, reason: "no such file") }
        return try optimize(try ONNXImporter.load(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Imports a QDQ model, removing only Identity/Dropout and dead nodes (its QDQ pairs and
    /// constants are the quantization and must stay).
    public static func loadQDQ(path: String) throws -> Graph {
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.unreadable(path: path, reason: "no such file") }
        let graph = try ONNXImporter.load(contentsOf: URL(fileURLWithPath: path))
        return try Pipelines.qdqCleanup.run(graph)
    }

    /// Whether the ONNX file is a QDQ (INT8) model.
    public static func isQuantized(path: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.unreadable(path: path, reason: "no such file") }
        return try ONNXImporter.load(contentsOf: URL(fileURLWithPath: path)).nodes.contains { $0.op.isQDQ }
    }

    /// Runs the FP32 optimization pipeline on an in-memory graph.
    public static func optimize(_ graph: Graph) throws -> Graph {
        try Pipelines.fp32Optimization.run(graph)
    }

    /// The single image input of a classification model: its name and [C, H, W].
    public static func imageInput(of graph: Graph) throws -> (name: String, chw: [Int]) {
        let inputs = graph.inputs.filter { graph.initializers[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first, input.dims.count == 4,
              let c = input.dims[1], let h = input.dims[2], let w = input.dims[3] else {
            throw PipelineError.notAnImageModel(graph.inputs.map { "\($0.name)\($0.dims.map { $0.map(String.init) ?? "N" })" })
        }
        return (input.name, [c, h, w])
    }
}

/// Errors of the pipeline layer (the CLI prints their descriptions).
public enum PipelineError: Error, CustomStringConvertible {
    case notAnImageModel([String])
    case sampleSize(sample: String, expected: [Int], elements: Int)
    case badOption(String)

    public var description: String {
        switch self {
        case .notAnImageModel(let inputs):
            "the model must have one input of shape [N,C,H,W] with fixed C, H, W; it has \(inputs.joined(separator: ", "))"
        case .sampleSize(let sample, let expected, let elements):
            "\(sample): the input has \(elements) values but the model expects \(expected) = \(expected.reduce(1, *)) (choose --preprocess to match the model)"
        case .badOption(let s): s
        }
    }
}
