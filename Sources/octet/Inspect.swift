import ArgumentParser
import OctetPipeline

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model's ops, shapes, parameter count and MACs.")

    @Argument(help: "ONNX model file.")
    var model: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "List every layer with its output shape and MACs.")
    var layers = false

    @OptionGroup var inputShape: InputShapeOptions

    func run() throws {
        let graph = try ModelLoader.load(path: model)
        let summary = try ModelSummary(graph: graph, inputShapes: try inputShape.shapes())
        if json { return try printJSON(summary) }
        print("model:      \(model) (graph '\(summary.name)', opset \(summary.opset))")
        for (name, dims) in summary.inputs.sorted(by: { $0.key < $1.key }) { print("input:      \(name) \(dims)") }
        for (name, dims) in summary.outputs.sorted(by: { $0.key < $1.key }) { print("output:     \(name) \(dims)") }
        for s in summary.symbolicInputs { print("note:       input \(s) has symbolic dimensions: give --input-shape for shapes and MACs") }
        print("nodes:      \(summary.nodes) after BatchNorm/constant folding")
        print("ops:        " + summary.opCounts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))
        print("parameters: \(summary.parameters) (\(String(format: "%.2f", Double(summary.parameters) / 1e6)) M)")
        print("MACs:       \(summary.macsPerImage) per image (\(String(format: "%.3f", Double(summary.macsPerImage) / 1e9)) G)")
        if layers {
            for l in summary.layers { print("  \(l.name)  \(l.op)  \(l.outputShape)  \(l.macs)") }
        }
    }
}
