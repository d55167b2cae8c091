import ArgumentParser
import Foundation
import OctetPipeline

struct Zoo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model of torchvision topology with seeded weights as ONNX (throughput workloads; accuracy is meaningless).")

    @Argument(help: "resnet18 or resnet50.")
    var name: String

    @Option(help: "Output ONNX file.")
    var out: String

    @Option(help: "Weight seed.")
    var seed: UInt64 = 18

    func run() throws {
        guard let depth = ResNet.Depth.allCases.first(where: { "resnet\($0.rawValue)" == name }) else {
            throw ValidationError("unknown zoo model '\(name)' (known: resnet18, resnet50)")
        }
        let graph = ResNet.build(depth, seed: seed)
        try ONNXExporter.write(graph, to: URL(fileURLWithPath: out))
        print("wrote \(out): \(name), \(graph.parameterCount) parameters, opset \(graph.opsetVersion)")
    }
}
