import Foundation
import OctetCore
import OctetIR

/// Reads ONNX models into `Graph`s. Every operator is checked before any work starts:
/// an unsupported one is reported by op type and node name, with the supported set.
public enum ONNXImporter {
    /// Default-domain opsets this importer accepts.
    public static let supportedOpsets = 11...21

    /// Loads a model file; external data files are looked up beside it.
    public static func load(contentsOf url: URL) throws(ONNXError) -> Graph {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        return try load(data: data, baseDirectory: url.deletingLastPathComponent())
    }

    /// Loads a serialized `ModelProto`.
    public static func load(data: Data, baseDirectory: URL? = nil) throws(ONNXError) -> Graph {
        guard !data.isEmpty else { throw .notAModel(reason: "the file is empty") }
        let model: Onnx_ModelProto
        do { model = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw .notAModel(reason: "\(error)")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else { throw .noGraph }
        var opset = 0
        for o in model.opsetImport where o.domain.isEmpty || o.domain == "ai.onnx" { opset = Int(clamping: o.version) }
        guard supportedOpsets.contains(opset) else {
            throw .unsupportedOpset(domain: "", version: opset, supported: supportedOpsets)
        }
        var graphImport = GraphImport(model.graph, opset: opset, baseDirectory: baseDirectory)
        return try graphImport.run()
    }
}

/// One import of a `GraphProto`: constants collected first, then nodes translated in order.
private struct GraphImport {
    let proto: Onnx_GraphProto
    let opset: Int
    let baseDirectory: URL?
    var initializers: [String: Tensor] = [:]

    init(_ proto: Onnx_GraphProto, opset: Int, baseDirectory: URL?) {
        self.proto = proto
        self.opset = opset
        self.baseDirectory = baseDirectory
    }

    mutating func run() throws(ONNXError) -> Graph {
        for t in proto.initializer {
            initializers[t.name] = try TensorConversion.tensor(from: t, baseDirectory: baseDirectory)
        }
        let outOfScope = proto.node.filter { Op.outOfScopeONNXTypes.contains($0.opType) }.map {
            ONNXError.UnsupportedNode(node: $0.name, opType: $0.opType, domain: $0.domain)
        }
        guard outOfScope.isEmpty else { throw .outOfScope(outOfScope) }
        let unsupported = proto.node.filter { !isSupported($0) }.map {
            ONNXError.UnsupportedNode(node: $0.name, opType: $0.opType, domain: $0.domain)
        }
        guard unsupported.isEmpty else { throw .unsupportedOperators(unsupported) }

        var nodes: [Node] = []
        for (i, n) in proto.node.enumerated() {
            var named = n
            if named.name.isEmpty { named.name = "\(n.opType)_\(i)" }
            if named.opType == "Constant" {
                try importConstant(named)
                continue
            }
            nodes += try translate(named)
        }
        let inputs = try proto.input.filter { initializers[$0.name] == nil }.map { v throws(ONNXError) in try valueInfo(v) }
        let outputs = try proto.output.map { v throws(ONNXError) in try valueInfo(v) }
        let graph = Graph(name: proto.name.isEmpty ? "graph" : proto.name, inputs: inputs, outputs: outputs,
                          initializers: initializers, nodes: nodes, opsetVersion: opset)
        do { try graph.verify() } catch { throw .invalidGraph(error) }
        return graph
    }

    func isSupported(_ n: Onnx_NodeProto) -> Bool {
        (n.domain.isEmpty || n.domain == "ai.onnx") && Op.supportedONNXTypes.contains(n.opType)
    }

    func valueInfo(_ v: Onnx_ValueInfoProto) throws(ONNXError) -> ValueInfo {
        let t = v.type.tensorType
        let dtype = DType(rawValue: t.elemType) ?? .float32
        guard dtype == .float32 else {
            throw .badTensor(name: v.name, reason: "graph inputs and outputs must be float32, got element type \(t.elemType)")
        }
        let dims: [Int?] = t.shape.dim.map { d in
            if case .dimValue(let x)? = d.value, x > 0 { return Int(x) }
            return nil
        }
        return ValueInfo(name: v.name, dtype: dtype, dims: dims)
    }

    mutating func importConstant(_ n: Onnx_NodeProto) throws(ONNXError) {
        let a = NodeAttributes(n)
        guard let out = n.output.first else { throw .badAttribute(node: n.name, attribute: "output", reason: "is missing") }
        var tensor: Tensor
        if let t = a.tensor("value") {
            tensor = try TensorConversion.tensor(from: t, baseDirectory: baseDirectory)
        } else if let f = a.raw("value_float") {
            tensor = Tensor.filled([], f.f)
        } else if let fs = a.raw("value_floats") {
            tensor = try wrap(n.name) { () throws(TensorError) in try Tensor(shape: [fs.floats.count], floats: fs.floats) }
        } else if let i = a.raw("value_int") {
            tensor = try wrap(n.name) { () throws(TensorError) in try Tensor(shape: [], data: .int64([i.i])) }
        } else if let iv = a.raw("value_ints") {
            tensor = try wrap(n.name) { () throws(TensorError) in try Tensor(shape: [iv.ints.count], data: .int64(iv.ints)) }
        } else {
            throw .badAttribute(node: n.name, attribute: "value", reason: "is missing or of an unsupported kind")
        }
        initializers[out] = tensor
    }

    private func wrap(_ name: String, _ body: () throws(TensorError) -> Tensor) throws(ONNXError) -> Tensor {
        do { return try body() } catch { throw .badTensor(name: name, reason: "\(error)") }
    }

    func window(_ a: NodeAttributes, kernelFromWeight: [Int]?) throws(ONNXError) -> Window2D {
        let kernel = try a.ints("kernel_shape") ?? kernelFromWeight
        guard let kernel, kernel.count == 2, kernel.allSatisfy({ $0 > 0 }) else {
            throw .badAttribute(node: a.node, attribute: "kernel_shape", reason: "must give two positive sizes (only 2-D windows are supported)")
        }
        let strides = try a.ints("strides") ?? [1, 1]
        let dilations = try a.ints("dilations") ?? [1, 1]
        let pads = try a.ints("pads") ?? [0, 0, 0, 0]
        guard strides.count == 2, strides.allSatisfy({ $0 > 0 }) else { throw .badAttribute(node: a.node, attribute: "strides", reason: "must be two positive ints") }
        guard dilations.count == 2, dilations.allSatisfy({ $0 > 0 }) else { throw .badAttribute(node: a.node, attribute: "dilations", reason: "must be two positive ints") }
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw .badAttribute(node: a.node, attribute: "pads", reason: "must be four non-negative ints") }
        let autoPadName = try a.string("auto_pad") ?? "NOTSET"
        guard let autoPad = AutoPad(rawValue: autoPadName) else {
            throw .badAttribute(node: a.node, attribute: "auto_pad", reason: "'\(autoPadName)' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
        }
        return Window2D(kernel: kernel, strides: strides, dilations: dilations, pads: pads, autoPad: autoPad)
    }

    func constantScalar(_ name: String, node: String) throws(ONNXError) -> Float? {
        if name.isEmpty { return nil }
        guard let t = initializers[name], t.shape.elementCount == 1, let v = t.data.doubles.first else {
            throw .badAttribute(node: node, attribute: name, reason: "must be a constant scalar (Clip bounds computed at run time are not supported)")
        }
        return Float(v)
    }

    /// Stores `values` as an int64 initializer named after the node, for an attribute that later
    /// opsets give as an input (axes, split sizes), and returns its name.
    mutating func attributeInput(_ n: Onnx_NodeProto, _ attribute: String, _ values: [Int]) -> String {
        let name = "\(n.name)::\(attribute)"
        initializers[name] = try? Tensor(shape: [values.count], data: .int64(values.map(Int64.init)))
        return name
    }

    /// Input `i` or "" when absent, so optional inputs can be addressed by position.
    static func input(_ inputs: [String], _ i: Int) -> String { i < inputs.count ? inputs[i] : "" }

    mutating func translate(_ n: Onnx_NodeProto) throws(ONNXError) -> [Node] {
        let a = NodeAttributes(n)
        var inputs = Array(n.input)
        let op: Op
        if let unary = try Self.unaryFunction(n.opType, a) {
            return [Node(name: n.name, op: .unary(unary), inputs: [Self.input(inputs, 0)], outputs: Array(n.output))]
        }
        if let kind = ReduceKind(rawValue: n.opType) {
            // Axes: an attribute before opset 18 (13 for ReduceSum), an optional input after.
            if let axes = try a.ints("axes") { inputs = [inputs[0], attributeInput(n, "axes", axes)] }
            else { inputs = [inputs[0], Self.input(inputs, 1)] }
            if inputs[1].isEmpty { inputs.removeLast() }
            let op = Op.reduce(kind, keepDims: try a.int("keepdims", default: 1) != 0,
                               noopWithEmptyAxes: try a.int("noop_with_empty_axes", default: 0) != 0)
            return [Node(name: n.name, op: op, inputs: inputs, outputs: Array(n.output))]
        }
        if ["Max", "Min", "Sum", "Mean"].contains(n.opType) { return try variadic(n) }
        switch n.opType {
        case "Conv":
            let weightShape = inputs.count > 1 ? initializers[inputs[1]].map { Array($0.shape.dims.suffix(2)) } : nil
            op = .conv(try window(a, kernelFromWeight: weightShape), group: try a.int("group", default: 1))
        case "BatchNormalization":
            op = .batchNormalization(epsilon: try a.float("epsilon", default: 1e-5))
            if n.output.count > 1 {
                throw .badAttribute(node: n.name, attribute: "outputs", reason: "BatchNormalization in training mode (running statistics outputs) is not supported")
            }
        case "Relu": op = .relu
        case "Clip":
            // Opset >= 11 (all supported opsets) gives the bounds as optional inputs.
            let lo = try inputs.count > 1 ? constantScalar(inputs[1], node: n.name) : nil
            let hi = try inputs.count > 2 ? constantScalar(inputs[2], node: n.name) : nil
            op = .clip(min: lo ?? -.infinity, max: hi ?? .infinity)
            inputs = [inputs[0]]
        case "MaxPool":
            guard n.output.count == 1 else { throw .badAttribute(node: n.name, attribute: "outputs", reason: "MaxPool indices output is not supported") }
            op = .maxPool(try window(a, kernelFromWeight: nil), ceilMode: try a.int("ceil_mode", default: 0) != 0)
        case "AveragePool":
            op = .averagePool(try window(a, kernelFromWeight: nil), ceilMode: try a.int("ceil_mode", default: 0) != 0,
                              countIncludePad: try a.int("count_include_pad", default: 0) != 0)
        case "GlobalAveragePool": op = .globalAveragePool
        case "Add": op = .add
        case "Mul": op = .mul
        case "Flatten": op = .flatten(axis: try a.int("axis", default: 1))
        case "Reshape": op = .reshape(allowZero: try a.int("allowzero", default: 0) != 0)
        case "Gemm":
            op = .gemm(GemmAttributes(alpha: try a.float("alpha", default: 1), beta: try a.float("beta", default: 1),
                                      transA: try a.int("transA", default: 0) != 0, transB: try a.int("transB", default: 0) != 0))
        case "MatMul": op = .matMul
        case "Softmax":
            op = opset < 13 ? .softmax(axis: try a.int("axis", default: 1), coerce2D: true)
                            : .softmax(axis: try a.int("axis", default: -1), coerce2D: false)
        case "Concat":
            guard a.has("axis") else { throw .badAttribute(node: n.name, attribute: "axis", reason: "is required") }
            op = .concat(axis: try a.int("axis", default: 0))
        case "QuantizeLinear": op = .quantizeLinear(axis: try a.int("axis", default: 1))
        case "DequantizeLinear": op = .dequantizeLinear(axis: try a.int("axis", default: 1))
        case "Identity": op = .identity
        case "Dropout": op = .dropout
            inputs = [inputs[0]]
        case "Where": op = .where
        case "Transpose": op = .transpose(perm: try a.ints("perm"))
        case "Slice": op = .slice
        case "Split":
            let axis = try a.int("axis", default: 0)
            if let split = try a.ints("split") { inputs = [inputs[0], attributeInput(n, "split", split)] }
            if inputs.count > 1 && inputs[1].isEmpty { inputs = [inputs[0]] }
            op = .split(axis: axis, outputs: n.output.count)
        case "Squeeze", "Unsqueeze":
            if let axes = try a.ints("axes") { inputs = [inputs[0], attributeInput(n, "axes", axes)] }
            if n.opType == "Unsqueeze" && inputs.count < 2 {
                throw .badAttribute(node: n.name, attribute: "axes", reason: "is required")
            }
            op = n.opType == "Squeeze" ? .squeeze : .unsqueeze
        case "Expand": op = .expand
        case "Gather": op = .gather(axis: try a.int("axis", default: 0))
        case "Tile": op = .tile
        case "Pad":
            let modeName = try a.string("mode") ?? "constant"
            guard let mode = PadMode(rawValue: modeName) else {
                throw .badAttribute(node: n.name, attribute: "mode", reason: "'\(modeName)' is not constant, reflect or edge")
            }
            op = .pad(mode)
        case "Shape":
            op = .shape(start: try a.int("start", default: 0), end: a.has("end") ? try a.int("end", default: 0) : nil)
        case "Size": op = .size
        case "ConstantOfShape":
            var value = Tensor.filled([1], 0)
            if let t = a.tensor("value") { value = try TensorConversion.tensor(from: t, baseDirectory: baseDirectory) }
            guard value.shape.elementCount == 1 else {
                throw .badAttribute(node: n.name, attribute: "value", reason: "must hold one element")
            }
            op = .constantOfShape(value: value)
        case "Range": op = .range
        case "Cast":
            let to = try a.int("to", default: 1)
            switch to {
            case 1, 10, 11, 16: op = .cast(to: .float32, toBool: false)  // float, float16, double, bfloat16: computed in float
            case 9: op = .cast(to: .uint8, toBool: true)
            default:
                guard let d = DType(rawValue: Int32(clamping: to)) else {
                    throw .badAttribute(node: n.name, attribute: "to", reason: "element type \(to) is not supported")
                }
                op = .cast(to: d, toBool: false)
            }
        case "Resize", "Upsample":
            let modeName = try a.string("mode") ?? "nearest"
            guard let mode = ResizeAttributes.Mode(rawValue: modeName == "bilinear" ? "linear" : modeName) else {
                throw .badAttribute(node: n.name, attribute: "mode", reason: "'\(modeName)' is not implemented (nearest and linear are)")
            }
            let coordName = n.opType == "Upsample" ? "asymmetric" : (try a.string("coordinate_transformation_mode") ?? "half_pixel")
            guard let coord = ResizeAttributes.CoordinateTransform(rawValue: coordName) else {
                throw .badAttribute(node: n.name, attribute: "coordinate_transformation_mode", reason: "'\(coordName)' is not implemented")
            }
            if coord == .tfHalfPixelForNN && mode != .nearest {
                throw .badAttribute(node: n.name, attribute: "coordinate_transformation_mode", reason: "'\(coordName)' with mode \(modeName) is not implemented")
            }
            let nearestName = n.opType == "Upsample" ? "floor" : (try a.string("nearest_mode") ?? "round_prefer_floor")
            guard let nearest = ResizeAttributes.NearestMode(rawValue: nearestName) else {
                throw .badAttribute(node: n.name, attribute: "nearest_mode", reason: "'\(nearestName)' is not implemented")
            }
            let antialias = try a.int("antialias", default: 0), policy = try a.string("keep_aspect_ratio_policy") ?? "stretch"
            if a.has("axes") || antialias != 0 || policy != "stretch" {
                throw .badAttribute(node: n.name, attribute: "axes/antialias/keep_aspect_ratio_policy", reason: "is not implemented")
            }
            op = .resize(ResizeAttributes(mode: mode, coordinateTransform: coord, nearestMode: nearest))
            if n.opType == "Upsample" { inputs = [inputs[0], "", Self.input(inputs, 1)] }
        case "ConvTranspose":
            let weightShape = inputs.count > 1 ? initializers[inputs[1]].map { Array($0.shape.dims.suffix(2)) } : nil
            let outputPadding = try a.ints("output_padding") ?? [0, 0]
            let outputShape = try a.ints("output_shape")
            guard outputPadding.count == 2, outputShape == nil || outputShape!.count == 2 else {
                throw .badAttribute(node: n.name, attribute: "output_padding", reason: "must give two values (only 2-D ConvTranspose)")
            }
            op = .convTranspose(ConvTransposeAttributes(window: try window(a, kernelFromWeight: weightShape),
                                                        group: try a.int("group", default: 1),
                                                        outputPadding: outputPadding, outputShape: outputShape))
        case "GlobalMaxPool": op = .globalMaxPool
        case "LogSoftmax":
            op = opset < 13 ? .logSoftmax(axis: try a.int("axis", default: 1), coerce2D: true)
                            : .logSoftmax(axis: try a.int("axis", default: -1), coerce2D: false)
        case "LayerNormalization":
            if n.output.count > 1, n.output.dropFirst().contains(where: { !$0.isEmpty }) {
                throw .badAttribute(node: n.name, attribute: "outputs", reason: "LayerNormalization Mean/InvStdDev outputs are not supported")
            }
            op = .layerNormalization(axis: try a.int("axis", default: -1), epsilon: try a.float("epsilon", default: 1e-5))
            return [Node(name: n.name, op: op, inputs: inputs, outputs: [n.output[0]])]
        case "InstanceNormalization": op = .instanceNormalization(epsilon: try a.float("epsilon", default: 1e-5))
        default:
            if let f = BinaryFunction(rawValue: n.opType) {
                op = .binary(f)
                break
            }
            throw .unsupportedOperators([.init(node: n.name, opType: n.opType, domain: n.domain)])
        }
        return [Node(name: n.name, op: op, inputs: inputs, outputs: Array(n.output))]
    }

    /// The element-wise unary operators, with their attributes.
    static func unaryFunction(_ type: String, _ a: NodeAttributes) throws(ONNXError) -> UnaryFunction? {
        switch type {
        case "Sigmoid": .sigmoid
        case "Tanh": .tanh
        case "Exp": .exp
        case "Log": .log
        case "Sqrt": .sqrt
        case "Neg": .neg
        case "Reciprocal": .reciprocal
        case "Abs": .abs
        case "Erf": .erf
        case "Floor": .floor
        case "Ceil": .ceil
        case "Round": .round
        case "HardSwish": .hardSwish
        case "Softplus": .softplus
        case "Sign": .sign
        case "Not": .not
        case "HardSigmoid": .hardSigmoid(alpha: try a.float("alpha", default: 0.2), beta: try a.float("beta", default: 0.5))
        case "LeakyRelu": .leakyRelu(alpha: try a.float("alpha", default: 0.01))
        case "Elu": .elu(alpha: try a.float("alpha", default: 1))
        default: nil
        }
    }

    /// Max/Min/Sum/Mean over any number of inputs as a chain of two-input nodes
    /// (Mean: the sum times 1/n).
    mutating func variadic(_ n: Onnx_NodeProto) throws(ONNXError) -> [Node] {
        let inputs = Array(n.input)
        guard let out = n.output.first, !inputs.isEmpty else {
            throw .badAttribute(node: n.name, attribute: "inputs", reason: "\(n.opType) needs at least one input")
        }
        let op: Op = switch n.opType { case "Max": .binary(.max); case "Min": .binary(.min); default: .add }
        let isMean = n.opType == "Mean" && inputs.count > 1
        if inputs.count == 1 { return [Node(name: n.name, op: .identity, inputs: inputs, outputs: [out])] }
        var nodes: [Node] = []
        var acc = inputs[0]
        for (k, x) in inputs.dropFirst().enumerated() {
            let last = k == inputs.count - 2 && !isMean
            let o = last ? out : "\(n.name)::partial\(k)"
            nodes.append(Node(name: k == 0 ? n.name : "\(n.name)::\(k)", op: op, inputs: [acc, x], outputs: [o]))
            acc = o
        }
        if isMean {
            let scale = "\(n.name)::reciprocal_count"
            initializers[scale] = Tensor.filled([], 1 / Float(inputs.count))
            nodes.append(Node(name: "\(n.name)::mean", op: .mul, inputs: [acc, scale], outputs: [out]))
        }
        return nodes
    }
}
