import OctetCore
import OctetIR
import OctetPasses

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
        /// Empty when the shape depends on a symbolic input dimension (see `symbolicShape`).
        public var outputShape: [Int]
        /// The output shape in the input's symbols (`[N, 96, H/4, W/4]`) when some are open.
        public var symbolicShape: String?
        public var macs: Int
    }

    /// Symbolic dimensions (other than the batch) left open: concrete shapes and MACs are not known.
    public var symbolicInputs: [String]
    /// With open symbols: each output's shape in them (`[N, 1, H, W]`), from `SymbolicShapes`.
    public var symbolicOutputs: [String: String]?
    /// With open symbols: the input shapes of `SymbolicShapes`' base size and the MACs there
    /// (`macsPerImage` is 0: it depends on the size).
    public var baseInputShapes: [String: [Int]]?
    public var macsAtBase: Int?

    /// Summarizes `graph` at batch 1, with `inputShapes` fixing symbolic dimensions. Without them
    /// a model with a symbolic height or width gets op counts and parameters only.
    public init(graph: Graph, inputShapes: [String: Shape] = [:]) throws {
        var shapesIn: [String: Shape] = [:]
        var open: [String] = []
        for i in graph.inputs where graph.initializers[i.name] == nil {
            if let s = inputShapes[i.name] { shapesIn[i.name] = s }
            else if i.hasSymbolicNonBatchDimension { open.append("\(i.name) \(i.dimsDescription)") }
            else { shapesIn[i.name] = i.concreteShape(batch: 1) }
        }
        symbolicInputs = open
        var shapes: [String: Shape] = [:]
        var symbolic: SymbolicShapes? = nil
        if open.isEmpty {
            shapes = try SpecializeShapes.apply(graph, inputShapes: shapesIn).shapes
        } else {
            symbolic = SymbolicShapes(graph, fixed: inputShapes)
        }
        name = graph.name
        opset = graph.opsetVersion
        nodes = graph.nodes.count
        opCounts = graph.opCounts
        inputs = Dictionary(uniqueKeysWithValues: graph.inputs.filter { graph.initializers[$0.name] == nil }.map { i in
            (i.name, shapesIn[i.name]?.dims ?? i.dims.map { $0 ?? -1 })
        })
        outputs = Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0.name, shapes[$0.name]?.dims ?? []) })
        parameters = graph.parameterCount
        layers = graph.nodes.map { node in
            Layer(name: node.name, op: node.op.onnxType, outputShape: shapes[node.outputs[0]]?.dims ?? [],
                  symbolicShape: symbolic?.shapes[node.outputs[0]].map(SymbolicShapes.text),
                  macs: Self.macs(node, graph: graph, shapes: shapes))
        }
        macsPerImage = layers.reduce(0) { $0 + $1.macs }
        if let symbolic {
            symbolicOutputs = Dictionary(uniqueKeysWithValues: graph.outputs.compactMap { o in
                symbolic.shapes[o.name].map { (o.name, SymbolicShapes.text($0)) }
            })
            baseInputShapes = symbolic.baseInputs.mapValues(\.dims)
            macsAtBase = graph.nodes.reduce(0) { $0 + Self.macs($1, graph: graph, shapes: symbolic.baseShapes) }
        }
    }

    /// Multiply-accumulates of a Conv, ConvTranspose, Gemm or MatMul node at `shapes`, for the
    /// batch those shapes have (0 for other ops, or when its shapes are not known).
    static func macs(_ node: Node, graph: Graph, shapes: [String: Shape]) -> Int {
        guard let out = shapes[node.outputs[0]] else { return 0 }
        switch node.op {
        case .conv:
            if let w = graph.initializers[node.inputs[1]]?.shape ?? shapes[node.inputs[1]] {
                return out.elementCount * w.dims.dropFirst().reduce(1, *)
            }
        case .gemm(let a):
            if let x = shapes[node.inputs[0]] { return out.elementCount * (a.transA ? x[0] : x[x.rank - 1]) }
        case .matMul:
            if let x = shapes[node.inputs[0]] { return out.elementCount * x[x.rank - 1] }
        case .convTranspose:
            if let x = shapes[node.inputs[0]], let w = graph.initializers[node.inputs[1]]?.shape {
                return x.elementCount * w.dims.dropFirst().reduce(1, *)
            }
        case .batchNormalization, .relu, .clip, .maxPool, .averagePool, .globalAveragePool, .add, .mul, .flatten,
             .reshape, .softmax, .concat, .identity, .dropout, .quantizeLinear, .dequantizeLinear,
             .unary, .binary, .where, .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .pad,
             .shape, .size, .constantOfShape, .range, .cast, .resize, .reduce, .globalMaxPool,
             .logSoftmax, .layerNormalization, .instanceNormalization:
            break
        }
        return 0
    }
}
