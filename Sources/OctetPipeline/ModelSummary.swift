import OctetCore
import OctetIR

/// What `octet inspect` reports: op counts, input/output shapes, parameters and MACs.
public struct ModelSummary: Codable, Sendable {
    public var name: String
    public var opset: Int
    public var nodes: Int
    public var opCounts: [String: Int]
    public var inputs: [String: [Int]]
    public var outputs: [String: [Int]]
    public var parameters: Int
    /// Multiply-accumulates of Conv, Gemm and MatMul for one image.
    public var macsPerImage: Int
    public var layers: [Layer]

    public struct Layer: Codable, Sendable {
        public var name: String
        public var op: String
        public var outputShape: [Int]
        public var macs: Int
    }

    /// Summarizes `graph` at batch 1.
    public init(graph: Graph) throws {
        var shapesIn: [String: Shape] = [:]
        for i in graph.inputs where graph.initializers[i.name] == nil { shapesIn[i.name] = i.concreteShape(batch: 1) }
        let shapes = try graph.inferShapes(inputShapes: shapesIn)
        name = graph.name
        opset = graph.opsetVersion
        nodes = graph.nodes.count
        opCounts = graph.opCounts
        inputs = Dictionary(uniqueKeysWithValues: shapesIn.map { ($0.key, $0.value.dims) })
        outputs = Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0.name, shapes[$0.name]?.dims ?? []) })
        parameters = graph.parameterCount
        layers = graph.nodes.map { node in
            let out = shapes[node.outputs[0]] ?? Shape([])
            var macs = 0
            switch node.op {
            case .conv:
                if let w = graph.initializers[node.inputs[1]]?.shape ?? shapes[node.inputs[1]] {
                    macs = out.elementCount * w.dims.dropFirst().reduce(1, *)
                }
            case .gemm(let a):
                if let x = shapes[node.inputs[0]] { macs = out.elementCount * (a.transA ? x[0] : x[x.rank - 1]) }
            case .matMul:
                if let x = shapes[node.inputs[0]] { macs = out.elementCount * x[x.rank - 1] }
            case .batchNormalization, .relu, .clip, .maxPool, .averagePool, .globalAveragePool, .add, .mul, .flatten,
                 .reshape, .softmax, .concat, .identity, .dropout, .quantizeLinear, .dequantizeLinear:
                break
            }
            return Layer(name: node.name, op: node.op.onnxType, outputShape: out.dims, macs: macs)
        }
        macsPerImage = layers.reduce(0) { $0 + $1.macs }
    }
}
