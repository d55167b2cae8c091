import OctetCore
import OctetIR

/// Turns an FP32 graph into an ONNX QDQ graph (ONNX Runtime's QDQ conventions): every
/// activation a quantized op reads or writes is replaced, for its readers, by
/// DequantizeLinear(QuantizeLinear(x)); weights become s8 initializers with per-channel
/// DequantizeLinear (axis = output channels), biases s32 with scale = input scale × weight scale.
///
///     y = Conv(x, W, B); z = Relu(y)
///  ⇒  xq = Q(x, sx, zx); x' = DQ(xq); W' = DQ(Wq, sw, 0, axis 0); B' = DQ(Bq, sx·sw, 0)
///     y = Conv(x', W', B'); z = Relu(y); zq = Q(z, sz, zz); z' = DQ(zq) → readers of z
///
/// A Relu/Clip that is a quantized op's only reader is quantized after, not before (it fuses
/// into the integer kernel). Graph outputs stay FP32, and so does a value only FP32 layers or
/// a float op writing a graph output read (`readOnlyInFloat`). Quantized ops: Conv, Gemm and MatMul
/// with constant weights, Add, MaxPool, AveragePool, GlobalAveragePool — unless excluded.
public enum InsertQuantizeDequantize {
    /// `weights`: codes made earlier by `quantizedWeights` for this graph's weights and `options`
    /// (a search that builds many QDQ graphs of one model quantizes each weight once); any weight
    /// it lacks is quantized here.
    public static func apply(_ graph: Graph, table: CalibrationTable, options: QuantizeOptions,
                             weights: [String: QuantizedWeight] = [:]) throws(GraphError) -> Graph {
        if let qdq = graph.nodes.first(where: { $0.op.isQDQ }) {
            throw .unsupported(node: qdq.name, detail: "input: the model is already quantized (it has \(qdq.op.onnxType) nodes)")
        }
        let points = quantizationPoints(graph, options: options)
        var g = graph
        g.opsetVersion = max(graph.opsetVersion, 13)
        var qdqFor: [String: String] = [:]
        for t in points.all {
            guard table[t] != nil else {
                throw .unsupported(node: t, detail: "tensor: '\(t)' has no calibration entry (it was never observed)")
            }
            qdqFor[t] = t + "_dequantized"
        }
        var nodes: [Node] = []
        func emitQDQ(_ t: String) {
            guard let entry = table[t] else { return }
            let scale = t + "_scale", zp = t + "_zero_point"
            g.initializers[scale] = Tensor.filled([], entry.params.scale)
            // u8 activations, or s8 ones (symmetric, zero point 0) where the table says so.
            g.initializers[zp] = entry.params.dtype == .int8
                ? try! Tensor(shape: [], data: .int8([Int8(clamping: entry.params.zeroPoint)]))
                : try! Tensor(shape: [], data: .uint8([UInt8(clamping: entry.params.zeroPoint)]))
            nodes.append(Node(name: t + "_QuantizeLinear", op: .quantizeLinear(axis: 1), inputs: [t, scale, zp], outputs: [t + "_quantized"]))
            nodes.append(Node(name: t + "_DequantizeLinear", op: .dequantizeLinear(axis: 1), inputs: [t + "_quantized", scale, zp],
                              outputs: [t + "_dequantized"]))
        }
        for input in graph.inputs where qdqFor[input.name] != nil { emitQDQ(input.name) }
        for node in graph.nodes {
            var n = node
            n.inputs = n.inputs.map { qdqFor[$0] ?? $0 }
            if points.weighted.contains(node.name) {
                try quantizeParameters(&n, original: node, graph: graph, table: table, options: options, weights: weights, into: &g, nodes: &nodes)
            }
            nodes.append(n)
            for o in node.outputs where qdqFor[o] != nil { emitQDQ(o) }
        }
        g.nodes = nodes
        g = EliminateDeadNodes.apply(g)
        do { try g.verify() } catch { throw .afterPass(pass: "InsertQuantizeDequantize", underlying: error.description) }
        return g
    }

    /// The activations to quantize and the nodes whose weights are quantized. `activations` are
    /// calibrated from their own histograms; each of `inherited` is data movement of a quantized
    /// tensor (a Slice of a Concat, a channel shuffle) or its linear Resize, and takes that
    /// tensor's parameters, as ONNX Runtime does (`Op.keepsQuantization`): moving or blending
    /// elements never leaves their range, and the INT8 plan computes on the codes. `all` lists
    /// both in the order they are produced.
    public static func quantizationPoints(_ graph: Graph, options: QuantizeOptions)
        -> (activations: [String], weighted: Set<String>, inherited: [String: String], all: [String]) {
        let match = FusionMatcher(graph)
        let outputs = match.outputs
        var points: [String] = []
        var seen = Set<String>()
        var weighted = Set<String>()
        let shapeOnly = graph.shapeOnlyValues
        func add(_ t: String) {
            guard !t.isEmpty, graph.initializers[t] == nil, !outputs.contains(t), seen.insert(t).inserted else { return }
            points.append(t)
        }
        for node in quantizedNodeList(graph, options: options, shapeOnly: shapeOnly) {
            switch node.op {
            case _ where node.op.isWeightedLayer: add(node.inputs[0]); weighted.insert(node.name)
            case .add, .mul, .concat: node.inputs.forEach(add)
            default: add(node.inputs[0])
            }
            var out = node.outputs[0]
            if let j = match.activation(after: out, allowed: { !options.excludedNodes.contains($0.name) && !options.excludedOpTypes.contains($0.op.onnxType) }) {
                out = graph.nodes[j].outputs[0]
            }
            if !readOnlyInFloat(out, graph, options) { add(out) }
        }
        // Order points as they are produced (inputs first), so the table and graph are canonical.
        let order = Dictionary(uniqueKeysWithValues: (graph.inputs.map(\.name) + graph.nodes.flatMap(\.outputs)).enumerated().map { ($1, $0) })
        let all = points.sorted { (order[$0] ?? 0) < (order[$1] ?? 0) }
        // The tensor whose parameters each value carries, through data movement (nodes in order).
        var carried: [String: String] = [:]
        for input in graph.inputs where seen.contains(input.name) { carried[input.name] = input.name }
        for node in graph.nodes {
            if node.op.keepsQuantization, !isExcluded(node, options), let root = carried[node.inputs[0]] {
                for o in node.outputs where !o.isEmpty && !shapeOnly.contains(o) { carried[o] = root }
            }
            for o in node.outputs where seen.contains(o) && carried[o] == nil { carried[o] = o }
        }
        var inherited: [String: String] = [:]
        for t in all where carried[t] != t { inherited[t] = carried[t] }
        return (all.filter { inherited[$0] == nil }, weighted, inherited, all)
    }

    /// The nodes the quantize pass quantizes with `options` (weighted layers, Add, Mul, Concat,
    /// pooling, element-wise tables, spatial means), in graph order: what `--exclude` or the
    /// accuracy-driven search can return to FP32 by name.
    public static func quantizedNodes(_ graph: Graph, options: QuantizeOptions) -> [String] {
        quantizedNodeList(graph, options: options, shapeOnly: graph.shapeOnlyValues).map(\.name)
    }

    /// The quantized nodes themselves. Arithmetic on shapes (a ShuffleNet's Add of a Gather of
    /// Shape) is not an activation, so a node with a shape-only output is not one of them.
    static func quantizedNodeList(_ graph: Graph, options: QuantizeOptions, shapeOnly: Set<String>) -> [Node] {
        graph.nodes.filter { isQuantizable($0, graph, options) && !$0.outputs.contains(where: shapeOnly.contains) }
    }

    /// Whether every reader of `value` computes in float: a weighted layer kept in FP32 (excluded,
    /// or returned by the accuracy search), or an op without an INT8 rule that writes a graph output
    /// (a detector's Sigmoid, a Softmax over logits). Such a value is left in float: its codes
    /// would only be dequantized again. Before a layer kept in FP32, the rounding would cost the
    /// very layer kept for its accuracy, and ONNX Runtime would run it on weights it quantizes
    /// itself (it turns DequantizeLinear → Conv (float weights) → QuantizeLinear into a
    /// QLinearConv), so the file would not mean what the calibration measured. Before an output,
    /// the rounding is pure loss (SqueezeNet's pooled logits: 39.5 → 42.1 dB from FP32), and
    /// the grid can be the coarsest of the model (PP-OCRv4 det's last logits: ±128 in steps of 1).
    static func readOnlyInFloat(_ value: String, _ graph: Graph, _ options: QuantizeOptions) -> Bool {
        guard let readers = graph.consumers[value], !readers.isEmpty else { return false }
        let graphOutputs = Set(graph.outputs.map(\.name))
        return readers.allSatisfy { i in
            let r = graph.nodes[i]
            if r.op.isWeightedLayer {
                return r.inputs.first == value && isExcluded(r, options) && graph.initializers[r.inputs[1]]?.floats != nil
            }
            return r.outputs.allSatisfy(graphOutputs.contains) && !isQuantizable(r, graph, options)
        }
    }

    static func isExcluded(_ node: Node, _ options: QuantizeOptions) -> Bool {
        options.excludedNodes.contains(node.name) || options.excludedOpTypes.contains(node.op.onnxType)
    }

    /// Whether every reader of `value` is quantized, looking through data movement (which the
    /// INT8 plan runs on codes) to the readers of its outputs; a reader of its shape alone (Shape)
    /// reads no values.
    static func readByQuantizedOps(_ value: String, _ graph: Graph, _ options: QuantizeOptions) -> Bool {
        let consumers = graph.consumers, shapeOnly = graph.shapeOnlyValues
        func read(_ value: String, depth: Int) -> Bool {
            guard depth <= graph.nodes.count else { return false }   // a path in a DAG is never longer
            return (consumers[value] ?? []).allSatisfy { i in
                let c = graph.nodes[i]
                if c.outputs.allSatisfy(shapeOnly.contains) { return true }
                // A Concat reader is quantizable by this same rule: follow it with the maps at hand
                // (isQuantizable would rebuild them for every Concat down the chain).
                if case .concat = c.op, !isExcluded(c, options) {
                    return c.inputs.allSatisfy { graph.initializers[$0] == nil } && read(c.outputs[0], depth: depth + 1)
                }
                if isQuantizable(c, graph, options) { return true }
                return c.op.keepsQuantization && !isExcluded(c, options) && c.inputs.first == value
                    && c.outputs.filter { !$0.isEmpty }.allSatisfy { read($0, depth: depth + 1) }
            }
        }
        return read(value, depth: 0)
    }

    static func isQuantizable(_ node: Node, _ graph: Graph, _ options: QuantizeOptions) -> Bool {
        if isExcluded(node, options) { return false }
        switch node.op {
        case .conv, .gemm, .matMul, .convTranspose: return graph.initializers[node.inputs[1]]?.floats != nil
        // An Add of two activations (a residual): the integer add. An Add of a constant is a step
        // of an element-wise function (HardSwish as x·Clip(x+3, 0, 6)/6): quantizing its output
        // would only add rounding error where no integer kernel runs.
        case .add: return node.inputs.allSatisfy { graph.initializers[$0] == nil }
        // A product of two tensors (a squeeze-excitation's gate) is the integer Mul; a product of a
        // tensor with a function of itself (SiLU's x·Sigmoid(x), a HardSwish spelled out) is one
        // element-wise function, run as one table: quantizing inside it would only add error.
        case .mul:
            return node.inputs.allSatisfy { graph.initializers[$0] == nil }
                && elementwiseRoot(node.inputs[0], graph) != elementwiseRoot(node.inputs[1], graph)
        // Activation functions become tables (quantized input and output), unless they are part
        // of such a one-tensor function.
        case .unary(let f):
            switch f {
            case .sigmoid, .hardSigmoid, .hardSwish, .tanh, .leakyRelu: break
            default: return false
            }
            // A table maps codes to codes; a graph output is float, so the function runs in float.
            if graph.outputs.contains(where: { $0.name == node.outputs[0] }) { return false }
            let consumers = graph.consumers[node.outputs[0]] ?? []
            return !consumers.contains { i in
                let c = graph.nodes[i]
                switch c.op {
                case .mul: return elementwiseRoot(c.inputs[0], graph) == elementwiseRoot(c.inputs[1], graph)
                case .add, .binary, .clip, .relu: return c.inputs.contains { graph.initializers[$0] != nil } || c.inputs.count == 1
                default: return false
                }
            }
        // PRelu with constant slopes (MTCNN's activations): a table per channel on codes, as the
        // unary functions; unquantized, the data movement that follows it (a Transpose and
        // Reshape before a dense layer) would run in float between a dequantize and a quantize.
        case .binary(.prelu):
            return node.inputs.count == 2 && graph.initializers[node.inputs[1]]?.floats != nil
        // Concat of activations: its inputs requantized to its output's parameters (ONNX Runtime's
        // QLinearConcat), when integer ops read it, directly or through data movement (a
        // ShuffleNet's channel shuffle); one that feeds FP32 ops stays FP32 with them: its codes
        // would only be dequantized again.
        case .concat:
            return node.inputs.allSatisfy { graph.initializers[$0] == nil } && readByQuantizedOps(node.outputs[0], graph, options)
        case .maxPool, .averagePool, .globalAveragePool: return true
        // The mean over height and width (`x.mean([2, 3])`): the integer global average.
        case .reduce(.mean, _, _):
            guard let axes = graph.initializers[node.inputs.count > 1 ? node.inputs[1] : ""]?.data.ints else { return false }
            return Set(axes) == [2, 3] || Set(axes) == [-2, -1]
        case .batchNormalization, .relu, .clip, .flatten, .reshape, .softmax, .identity, .dropout,
             .quantizeLinear, .dequantizeLinear,
             // INT8 rules for the general operators are not written yet: they stay FP32.
             .binary, .where, .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .pad,
             .shape, .size, .constantOfShape, .range, .cast, .resize, .reduce, .globalMaxPool,
             .logSoftmax, .layerNormalization, .instanceNormalization:
            return false
        }
    }

    /// The tensor `value` is an element-wise function of: followed back through unary functions,
    /// Relu, Clip, and Add/Mul/Sub/Div... by constants, to the first value that is not.
    static func elementwiseRoot(_ value: String, _ graph: Graph) -> String {
        let producers = graph.producers
        var v = value
        for _ in 0..<64 {
            guard let p = producers[v] else { return v }
            let node = graph.nodes[p]
            switch node.op {
            case .unary, .relu, .clip, .add, .mul, .binary: break
            default: return v
            }
            let variable = node.inputs.filter { !$0.isEmpty && graph.initializers[$0] == nil }
            guard variable.count == 1 else { return v }
            v = variable[0]
        }
        return v
    }

    /// The s8 codes and scales of one weight tensor (`WeightQuantizer.quantize` on its axis).
    public struct QuantizedWeight: Sendable {
        public var codes: [Int8]
        public var scales: [Float]
        public init(codes: [Int8], scales: [Float]) {
            self.codes = codes
            self.scales = scales
        }
    }

    /// The output-channel axis of a weighted node's weight tensor.
    static func weightAxis(_ op: Op) -> Int {
        switch op {
        case .gemm(let a): a.transB ? 0 : 1
        // ConvTranspose weights are [Cin, Cout/group, kh, kw]: output channels on axis 1 (ONNX
        // Runtime's quantizer uses the same axis).
        case .matMul, .convTranspose: 1
        default: 0
        }
    }

    /// The codes of every weight the quantize pass would quantize with `options`, keyed as `apply`
    /// reads them (weight name and axis). Each weight is quantized alone, so `threads` threads
    /// (taking the largest first) give the same codes as one.
    public static func quantizedWeights(_ graph: Graph, options: QuantizeOptions, threads: Int = 1) -> [String: QuantizedWeight] {
        let weighted = quantizationPoints(graph, options: options).weighted
        var work: [(key: String, weight: Tensor, floats: [Float], axis: Int)] = []
        var seen = Set<String>()
        for node in graph.nodes where weighted.contains(node.name) {
            let axis = weightAxis(node.op), key = "\(node.inputs[1])@\(axis)"
            guard !seen.contains(key), let w = graph.initializers[node.inputs[1]], let wf = w.floats else { continue }
            seen.insert(key)
            work.append((key, w, wf, axis))
        }
        work.sort { ($0.floats.count, $1.key) > ($1.floats.count, $0.key) }
        let items = work
        let codes = parallelMap(items.count, threads: threads) { i -> QuantizedWeight? in
            let item = items[i]
            let (q, s) = WeightQuantizer.quantize(item.floats, shape: item.weight.shape, axis: item.axis, perChannel: options.perChannelWeights,
                                                  qmax: options.weightMax, clipping: options.weightClipping)
            return QuantizedWeight(codes: q, scales: s)
        }
        var out: [String: QuantizedWeight] = [:]
        for (item, w) in zip(items, codes) { out[item.key] = w }
        return out
    }

    /// Replaces the float weight (and bias) inputs of `n` by DequantizeLinear of quantized initializers.
    static func quantizeParameters(_ n: inout Node, original: Node, graph: Graph, table: CalibrationTable,
                                   options: QuantizeOptions, weights: [String: QuantizedWeight],
                                   into g: inout Graph, nodes: inout [Node]) throws(GraphError) {
        let wName = original.inputs[1]
        guard let w = graph.initializers[wName], let wf = w.floats, let input = table[original.inputs[0]] else { return }
        let axis = weightAxis(original.op)
        let (q, scales) = weights["\(wName)@\(axis)"].map { ($0.codes, $0.scales) }
            ?? WeightQuantizer.quantize(wf, shape: w.shape, axis: axis, perChannel: options.perChannelWeights, qmax: options.weightMax,
                                        clipping: options.weightClipping)
        let base = wName
        n.inputs[1] = base + "_dequantized"
        // A weight shared by several nodes is quantized once (same axis and options, same result).
        let alreadyQuantized = g.initializers[base + "_quantized"] != nil
        if !alreadyQuantized {
        g.initializers[base + "_quantized"] = try! Tensor(shape: w.shape, data: .int8(q))
        g.initializers[base + "_scale"] = try! Tensor(shape: scales.count == 1 ? [] : [scales.count], floats: scales)
        g.initializers[base + "_zero_point"] = try! Tensor(shape: scales.count == 1 ? [] : [scales.count], data: .int8(Array(repeating: 0, count: scales.count)))
        nodes.append(Node(name: base + "_DequantizeLinear", op: .dequantizeLinear(axis: axis),
                          inputs: [base + "_quantized", base + "_scale", base + "_zero_point"], outputs: [base + "_dequantized"]))
        }
        if n.inputs.count > 2, !n.inputs[2].isEmpty, let b = graph.initializers[original.inputs[2]], let bf = b.floats, b.shape.rank <= 1 {
            let outChannels = w.shape[axis]
            guard bf.count == outChannels || bf.count == 1 else { return }
            var gemmBeta: Float = 1
            if case .gemm(let a) = original.op { gemmBeta = a.beta }
            let full = bf.count == 1 ? Array(repeating: bf[0] * gemmBeta, count: outChannels) : bf.map { $0 * gemmBeta }
            let (bq, bScales) = WeightQuantizer.quantizeBias(full, inputScale: input.params.scale, weightScales: scales)
            // Bias names are made per node: the bias scale depends on the node's input scale.
            let bName = original.name + "_bias"
            g.initializers[bName + "_quantized"] = try! Tensor(shape: [outChannels], data: .int32(bq))
            g.initializers[bName + "_scale"] = try! Tensor(shape: [outChannels], floats: bScales)
            g.initializers[bName + "_zero_point"] = try! Tensor(shape: [outChannels], data: .int32(Array(repeating: 0, count: outChannels)))
            nodes.append(Node(name: bName + "_DequantizeLinear", op: .dequantizeLinear(axis: 0),
                              inputs: [bName + "_quantized", bName + "_scale", bName + "_zero_point"], outputs: [bName + "_dequantized"]))
            n.inputs[2] = bName + "_dequantized"
            if case .gemm(var a) = original.op, a.beta != 1 { a.beta = 1; n.op = .gemm(a) }
        }
    }
}
