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
        for (name, dims) in summary.outputs.sorted(by: { $0.key < $1.key }) {
            print("output:     \(name) \(summary.symbolicOutputs?[name] ?? "\(dims)")")
        }
        for s in summary.symbolicInputs { print("note:       input \(s) has symbolic dimensions: shapes in its symbols; give --input-shape for numbers") }
        print("nodes:      \(summary.nodes) after BatchNorm/constant folding")
        print("ops:        " + summary.opCounts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))
        print("parameters: \(summary.parameters) (\(String(format: "%.2f", Double(summary.parameters) / 1e6)) M)")
        if let base = summary.macsAtBase, let shapes = summary.baseInputShapes {
            let at = shapes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.map(String.init).joined(separator: "x"))" }.joined(separator: " ")
            print("MACs:       depend on the input size: \(base) at \(at) (\(String(format: "%.3f", Double(base) / 1e9)) G)")
        } else {
            print("MACs:       \(summary.macsPerImage) per image (\(String(format: "%.3f", Double(summary.macsPerImage) / 1e9)) G)")
        }
        if layers {
            for l in summary.layers { print("  \(l.name)  \(l.op)  \(l.symbolicShape ?? "\(l.outputShape)")  \(l.macs)") }
        }
    }
}
