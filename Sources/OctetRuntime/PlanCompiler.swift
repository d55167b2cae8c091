import OctetCore
import OctetIR
import OctetKernels
import OctetPasses

/// Lowers a graph to a list of per-image steps over an arena: chooses layouts, fuses
/// Conv + bias + residual + activation, packs weights and assigns arena offsets.
struct PlanCompiler {
    var graph: Graph
    let options: PlanOptions
    /// Per-image shapes of the model inputs (batch dimension 1).
    let inputShapes: [String: Shape]
    /// Values the compiler made (layout copies, ConvTranspose columns): not observed.
    var internalValues = Set<String>()
    var shapes: [String: Shape] = [:]
    var slots: [String: Slot] = [:]
    var steps: [Step] = []
    /// Values each step writes (observed after the step runs).
    var produced: [[String]] = []
    /// Values each step reads (for liveness).
    var reads: [[String]] = []
    var macs = 0
    var maxScratch = 0
    /// Per step: the node it came from (with fused nodes) and its multiply-accumulates.
    var labels: [String] = []
    var stepMacs: [Int] = []
    var currentLabel = ""

    init(graph: Graph, options: PlanOptions, inputShapes: [String: Shape]) {
        self.graph = graph
        self.options = options
        self.inputShapes = inputShapes
    }

    /// Per-image input shapes (batch 1) of `graph`: `given` where the caller fixed them, else
    /// the declared dims; a symbolic dimension other than the batch without a given shape throws.
    static func perImageShapes(_ graph: Graph, given: [String: Shape]) throws(RuntimeError) -> [String: Shape] {
        var out: [String: Shape] = [:]
        for i in graph.inputs where graph.initializers[i.name] == nil {
            guard i.dims.count >= 1 else { throw .badInput(name: i.name, detail: "scalar model inputs are not supported") }
            if var s = given[i.name] {
                guard s.rank == i.dims.count, zip(s.dims.dropFirst(), i.dims.dropFirst()).allSatisfy({ $1 == nil || $0 == $1 }),
                      s.dims.allSatisfy({ $0 > 0 }) else {
                    throw .badInput(name: i.name, detail: "shape \(s) does not fit the model's \(i.dimsDescription)")
                }
                s[0] = 1
                out[i.name] = s
            } else {
                guard !i.hasSymbolicNonBatchDimension else {
                    throw .badInput(name: i.name, detail: "the model gives it symbolic dimensions \(i.dimsDescription): the data must fix them (or --input-shape \(i.name)=1x...)")
                }
                var s = i.concreteShape(batch: 1)
                s[0] = 1
                out[i.name] = s
            }
        }
        return out
    }

    mutating func compile() throws(RuntimeError) -> CompiledPlan {
        var g = graph
        for i in g.inputs.indices where g.inputs[i].dims.count >= 1 { g.inputs[i].dims[0] = nil }
        do { (graph, shapes) = try SpecializeShapes.apply(g, inputShapes: inputShapes) } catch { throw .graph(error) }

        let match = FusionMatcher(graph)
        let consumers = match.consumers
        let graphOutputs = match.outputs
        var skipped = Set<Int>()
        // Logical placeholders for inputs; operands are assigned after liveness.
        for (name, s) in inputShapes { slots[name] = Slot(shape: s, layout: LayoutConversion.layout(for: s), operand: .arena(-1)) }

        for (index, node) in graph.nodes.enumerated() where !skipped.contains(index) {
            currentLabel = "\(node.op.onnxType) \(node.name)"
            if case .conv = node.op {
                let fusion = convFusion(index, match: match, readyBefore: index)
                skipped.formUnion(fusion.nodes)
                currentLabel += fusion.label
                // A 1×1 layer whose only reader is a depthwise layer: both over row bands.
                if options.fuse, fusion.residual == nil, let j = match.soleReader(of: fusion.output), !skipped.contains(j),
                   case .conv = graph.nodes[j].op, graph.nodes[j].inputs[0] == fusion.output {
                    let depthwise = convFusion(j, match: match, readyBefore: index)
                    if try lowerPointwiseDepthwise(node, fusion, graph.nodes[j], depthwise) {
                        skipped.insert(j)
                        skipped.formUnion(depthwise.nodes)
                        continue
                    }
                }
                try lowerConv(node, residual: fusion.residual, activation: fusion.activation, post: fusion.post, output: fusion.output)
            } else if options.fuse, let shuffle = match.channelShuffle(at: index, shapes: shapes) {
                // Reshape → Transpose → Reshape of a channel shuffle: one per-pixel permutation in NHWC.
                skipped.insert(shuffle.transpose); skipped.insert(shuffle.reshape)
                currentLabel = "ChannelShuffle \(node.name)"
                let (xName, x) = try nhwcSlot(node.inputs[0], node: node)
                let out = graph.nodes[shuffle.reshape].outputs[0]
                let y = define(out, layout: .nhwc)
                emit(.channelShuffle(input: x.operand, output: y.operand, pixels: x.shape[2] * x.shape[3], groups: shuffle.groups,
                                     channelsPerGroup: x.shape[1] / shuffle.groups), reads: [xName], writes: [out])
            } else if options.fuse, let chain = try elementwiseChain(index, match: match) {
                // Element-wise nodes with scalar constants over one value: one blocked pass.
                for j in chain.nodes.dropFirst() { skipped.insert(j) }
                currentLabel = "\(node.op.onnxType) \(node.name) +\(chain.nodes.count - 1) element-wise"
                let x = try slot(chain.input, node: node)
                let out = graph.nodes[chain.nodes.last ?? index].outputs[0]
                let y = define(out, layout: x.layout)
                emit(.chain(chain.kernel, input: x.operand, output: y.operand, count: x.count), reads: [chain.input], writes: [out])
            } else if options.fuse, let mul = siluMul(index, consumers: consumers, outputs: graphOutputs) {
                // x · Sigmoid(x) (SiLU): one kernel at the Mul, the Sigmoid not materialized.
                skipped.insert(mul)
                currentLabel = "SiLU \(node.name) +Mul"
                let x = try slot(node.inputs[0], node: node)
                let out = graph.nodes[mul].outputs[0]
                let y = define(out, layout: x.layout)
                emit(.activation(ActivationKernel(.silu, isa: options.isa), input: x.operand, output: y.operand, count: x.count),
                     reads: [node.inputs[0]], writes: [out])
            } else {
                try lower(node)
            }
        }
        return try assignMemory()
    }

    // MARK: - Lowering

    /// What a convolution's step computes besides the convolution: the Relu/Clip, residual Add
    /// and table activation after it that the step applies (none unless `options.fuse`).
    struct ConvFusion {
        var residual: String? = nil
        var activation: (Float, Float) = (-.infinity, .infinity)
        var post: ActivationKernel? = nil
        /// The value the step writes (the last fused node's output).
        var output: String
        /// The fused nodes after the convolution.
        var nodes: [Int] = []
        /// What the profile's label adds to the node's.
        var label: String {
            (residual != nil ? " +Add" : "") + (activation != (-.infinity, .infinity) ? " +Act" : "")
                + (post.map { " +\($0.kind)" } ?? "")
        }
    }

    /// The nodes the convolution at `index` absorbs. A residual is taken only when it is computed
    /// before node `readyBefore` (where the step will run).
    func convFusion(_ index: Int, match: FusionMatcher, readyBefore: Int) -> ConvFusion {
        let node = graph.nodes[index]
        var f = ConvFusion(output: node.outputs[0])
        guard options.fuse else { return f }
        if let j = match.activation(after: f.output), let a = graph.nodes[j].op.clampBounds {
            f.activation = a; f.nodes.append(j); f.output = graph.nodes[j].outputs[0]
        } else if let j = match.soleReader(of: f.output), case .add = graph.nodes[j].op {
            let add = graph.nodes[j]
            let other = add.inputs[0] == f.output ? add.inputs[1] : add.inputs[0]
            let otherReady = graph.initializers[other] == nil && other != f.output
                && (inputShapes[other] != nil || (match.producers[other].map { $0 < readyBefore } ?? false))
            if otherReady, shapes[other] == shapes[f.output] {
                f.residual = other; f.nodes.append(j); f.output = add.outputs[0]
                if let k = match.activation(after: f.output), let a = graph.nodes[k].op.clampBounds {
                    f.activation = a; f.nodes.append(k); f.output = graph.nodes[k].outputs[0]
                }
            }
        }
        // A Sigmoid, HardSwish, HardSigmoid or SiLU (x·Sigmoid(x)) after it: applied to each
        // chunk of output pixels by the convolution step.
        let readers = match.consumers[f.output] ?? []
        if let j = match.soleReader(of: f.output), case .unary(let u) = graph.nodes[j].op, let kind = ActivationKernel.Kind(u) {
            f.post = ActivationKernel(kind, isa: options.isa)
            f.nodes.append(j); f.output = graph.nodes[j].outputs[0]
        } else if !match.outputs.contains(f.output), readers.count == 2,
                  let j = readers.first(where: { if case .unary(.sigmoid) = graph.nodes[$0].op { true } else { false } }),
                  let mul = siluMul(j, consumers: match.consumers, outputs: match.outputs), readers.contains(mul) {
            f.post = ActivationKernel(.silu, isa: options.isa)
            f.nodes.append(j); f.nodes.append(mul); f.output = graph.nodes[mul].outputs[0]
        }
        return f
    }

    /// The index of the Mul computing x · Sigmoid(x) when node `index` is that Sigmoid and the Mul
    /// is its only consumer.
    func siluMul(_ index: Int, consumers: [String: [Int]], outputs: Set<String>) -> Int? {
        let node = graph.nodes[index]
        guard case .unary(.sigmoid) = node.op, !outputs.contains(node.outputs[0]),
              let c = consumers[node.outputs[0]], c.count == 1, c[0] > index, case .mul = graph.nodes[c[0]].op else { return nil }
        let mul = graph.nodes[c[0]]
        let other = mul.inputs[0] == node.outputs[0] ? mul.inputs[1] : mul.inputs[0]
        guard other == node.inputs[0], shapes[mul.outputs[0]] == shapes[node.inputs[0]] else { return nil }
        return c[0]
    }

    /// The element-wise chain starting at node `index` (`FusionMatcher.elementwiseChain`) as one
    /// kernel, when every value of it has the input's shape.
    func elementwiseChain(_ index: Int, match: FusionMatcher) throws(RuntimeError) -> (input: String, nodes: [Int], kernel: ElementwiseChainKernel)? {
        func scalar(_ name: String) -> Float? {
            guard let t = graph.initializers[name], t.shape.elementCount == 1, let f = t.floats else { return nil }
            return f[0]
        }
        guard let (x, nodes) = match.elementwiseChain(at: index, isScalarConstant: { scalar($0) != nil }),
              let xShape = shapes[x], graph.initializers[x] == nil else { return nil }
        var value = x
        var program: [ElementwiseChainKernel.Instruction] = []
        for j in nodes {
            let node = graph.nodes[j]
            guard shapes[node.outputs[0]] == xShape else { return nil }
            if let (lo, hi) = node.op.clampBounds {
                program.append(.clamp(min: lo, max: hi))
            } else {
                let kind: BinaryKind
                switch node.op {
                case .add: kind = .add
                case .mul: kind = .mul
                case .binary(let f): kind = .function(f)
                default: return nil
                }
                guard let op = kind.rowKernel(isa: options.isa)?.operation else { return nil }
                let reversed = node.inputs[1] == value
                let other = reversed ? node.inputs[0] : node.inputs[1]
                if other == x && value != x {
                    program.append(.input(op, reversed: reversed))
                } else if let c = scalar(other) {
                    program.append(.constant(op, c, reversed: reversed))
                } else {
                    return nil
                }
            }
            value = node.outputs[0]
        }
        return (x, nodes, ElementwiseChainKernel(program, isa: options.isa))
    }

    func constant(_ name: String, node: Node) throws(RuntimeError) -> [Float] {
        guard let t = graph.initializers[name] else {
            throw .unsupported(node: node.name, detail: "input '\(name)' computed at run time where a constant is expected")
        }
        guard let f = t.floats else { throw .unsupported(node: node.name, detail: "\(t.dtype) constant '\(name)'") }
        return f
    }

    /// The slot of a value read by a step; constants are materialized in their physical layout.
    mutating func slot(_ name: String, node: Node) throws(RuntimeError) -> Slot {
        if let s = slots[name] { return s }
        guard let t = graph.initializers[name] else { throw .graph(.undefinedValue(node: node.name, value: name)) }
        guard let values = t.floats else { throw .unsupported(node: node.name, detail: "\(t.dtype) tensor '\(name)' as an activation") }
        var shape = t.shape
        var layout = LayoutConversion.layout(for: shape)
        if shape.rank == 0 { shape = [1]; layout = .rowMajor }
        let buffer = AlignedBuffer(count: values.count)
        values.withUnsafeBufferPointer { LayoutConversion.fromRowMajor($0.baseAddress!, shape: shape, layout: layout, into: buffer.pointer) }
        let s = Slot(shape: shape, layout: layout, operand: .constant(buffer))
        slots[name] = s
        return s
    }

    mutating func define(_ name: String, layout: PhysicalLayout? = nil) -> Slot {
        let shape = shapes[name] ?? Shape([1])
        let s = Slot(shape: shape, layout: shape.rank == 4 ? (layout ?? .nhwc) : .rowMajor, operand: .arena(-1))
        slots[name] = s
        return s
    }

    /// The value `name` in `layout`: itself, or a copy made by a relayout step (constants are
    /// materialized in that layout once). Returns the name the step reads and its slot.
    mutating func slot(_ name: String, layout: PhysicalLayout, node: Node) throws(RuntimeError) -> (String, Slot) {
        let s = try slot(name, node: node)
        guard s.shape.rank == 4, s.layout != layout else { return (name, s) }
        let copy = name + (layout == .nhwc ? "#nhwc" : "#rowmajor")
        if let c = slots[copy] { return (copy, c) }
        if case .constant = s.operand, let t = graph.initializers[name], let values = t.floats {
            let buffer = AlignedBuffer(count: values.count)
            values.withUnsafeBufferPointer { LayoutConversion.fromRowMajor($0.baseAddress!, shape: s.shape, layout: layout, into: buffer.pointer) }
            let c = Slot(shape: s.shape, layout: layout, operand: .constant(buffer))
            slots[copy] = c
            return (copy, c)
        }
        shapes[copy] = s.shape
        internalValues.insert(copy)
        let c = define(copy, layout: layout)
        emit(.relayout(input: s, output: c), reads: [name], writes: [copy])
        return (copy, c)
    }

    mutating func nhwcSlot(_ name: String, node: Node) throws(RuntimeError) -> (String, Slot) { try slot(name, layout: .nhwc, node: node) }
    mutating func rowMajorSlot(_ name: String, node: Node) throws(RuntimeError) -> (String, Slot) { try slot(name, layout: .rowMajor, node: node) }

    mutating func emit(_ step: Step, reads r: [String], writes w: [String]) {
        labels.append(currentLabel)
        var m = 0
        if case .conv(let k, _, _, _) = step { m = k.geometry.macs }
        if case .convBands(let b, _, _, _) = step { m = b.macs }
        stepMacs.append(m)
        steps.append(step)
        reads.append(r)
        produced.append(w)
    }

    /// The kernel of a Conv node with the clamp and activation its step applies.
    func convKernel(_ node: Node, activation: (Float, Float), post: ActivationKernel?) throws(RuntimeError) -> Conv2DKernel {
        guard let x = shapes[node.inputs[0]], let w = graph.initializers[node.inputs[1]]?.shape,
              let y = shapes[node.outputs[0]] else { throw .graph(.undefinedValue(node: node.name, value: node.inputs[0])) }
        let weights = try constant(node.inputs[1], node: node)
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? try constant(node.inputs[2], node: node) : nil
        let geometry = try ConvLowering(node, input: x, output: y, weightShape: w).geometry
        return Conv2DKernel(geometry: geometry, weights: weights, bias: bias,
                            activationMin: activation.0, activationMax: activation.1, postActivation: post, isa: options.isa)
    }

    /// Lowers a 1×1 convolution and the depthwise convolution that alone reads its output as one
    /// `PointwiseDepthwiseBands` step, when the pair qualifies; false (nothing emitted) otherwise.
    mutating func lowerPointwiseDepthwise(_ node: Node, _ fusion: ConvFusion, _ dwNode: Node, _ dw: ConvFusion) throws(RuntimeError) -> Bool {
        guard graph.initializers[dwNode.inputs[1]] != nil,
              let bands = PointwiseDepthwiseBands(
                pointwise: try convKernel(node, activation: fusion.activation, post: fusion.post),
                depthwise: try convKernel(dwNode, activation: dw.activation, post: dw.post)) else { return false }
        currentLabel += ", Conv \(dwNode.name)\(dw.label) in row bands"
        macs += bands.macs
        maxScratch = max(maxScratch, bands.scratchCount)
        let input = try nhwcSlot(node.inputs[0], node: node)
        let res = try dw.residual.map { (r: String) throws(RuntimeError) in try nhwcSlot(r, node: dwNode) }
        let out = define(dw.output)
        emit(.convBands(bands, input: input.1.operand, residual: res?.1.operand, output: out.operand),
             reads: [input.0] + (res.map { [$0.0] } ?? []), writes: [dw.output])
        return true
    }

    mutating func lowerConv(_ node: Node, residual: String?, activation: (Float, Float), post: ActivationKernel? = nil,
                            output: String) throws(RuntimeError) {
        let kernel = try convKernel(node, activation: activation, post: post)
        let geometry = kernel.geometry
        if kernel.algorithm == .winograd { currentLabel += " (Winograd F(2x2,3x3))" }
        macs += geometry.macs
        maxScratch = max(maxScratch, kernel.scratchCount)
        let input = try nhwcSlot(node.inputs[0], node: node)
        let res = try residual.map { (r: String) throws(RuntimeError) in try nhwcSlot(r, node: node) }
        let out = define(output)
        emit(.conv(kernel, input: input.1.operand, residual: res?.1.operand, output: out.operand),
             reads: [input.0] + (res.map { [$0.0] } ?? []), writes: [output])
    }

    mutating func lower(_ node: Node) throws(RuntimeError) {
        let outName = node.outputs[0]
        switch node.op {
        case .conv:
            try lowerConv(node, residual: nil, activation: (-.infinity, .infinity), output: outName)
        case .relu, .clip:
            let (lo, hi) = node.op.clampBounds ?? (-.infinity, .infinity)
            let x = try slot(node.inputs[0], node: node)
            let y = define(outName, layout: x.layout)
            emit(.clamp(input: x.operand, output: y.operand, count: x.count, min: lo, max: hi), reads: [node.inputs[0]], writes: [outName])
        case .unary(let f):
            let x = try slot(node.inputs[0], node: node)
            let y = define(outName, layout: x.layout)
            if let simd = ActivationKernel.Kind(f) {
                emit(.activation(ActivationKernel(simd, isa: options.isa), input: x.operand, output: y.operand, count: x.count),
                     reads: [node.inputs[0]], writes: [outName])
            } else {
                emit(.unary(f, input: x.operand, output: y.operand, count: x.count), reads: [node.inputs[0]], writes: [outName])
            }
        case .batchNormalization(let eps):
            let x = try slot(node.inputs[0], node: node)
            let p = try node.inputs[1...4].map { (n: String) throws(RuntimeError) in try constant(n, node: node) }
            let channels = x.shape[1]
            var scale = [Float](repeating: 0, count: channels), shift = scale
            for c in 0..<channels {
                let s = Double(p[0][c]) / (Double(p[3][c]) + Double(eps)).squareRoot()
                scale[c] = Float(s)
                shift[c] = Float(Double(p[1][c]) - Double(p[2][c]) * s)
            }
            let inner = x.layout == .nhwc ? 1 : x.shape.dims[2...].reduce(1, *)
            let y = define(outName, layout: x.layout)
            emit(.channelAffine(input: x.operand, output: y.operand, count: x.count, channels: channels, inner: inner, scale: scale, shift: shift),
                 reads: [node.inputs[0]], writes: [outName])
        case .maxPool(let window, _), .averagePool(let window, _, _):
            let (xName, x) = try nhwcSlot(node.inputs[0], node: node)
            let y = define(outName)
            let pads = window.resolvedPads(input: [x.shape[2], x.shape[3]])
            let kind: Pool2DKernel.Kind = if case .averagePool(_, _, let include) = node.op { .average(countIncludePad: include) } else { .max }
            let k = Pool2DKernel(kind: kind, isa: options.isa, inHeight: x.shape[2], inWidth: x.shape[3], channels: x.shape[1],
                                 outHeight: y.shape[2], outWidth: y.shape[3], kernel: (window.kernel[0], window.kernel[1]),
                                 stride: (window.strides[0], window.strides[1]), dilation: (window.dilations[0], window.dilations[1]),
                                 padTop: pads[0], padLeft: pads[1])
            emit(.pool(k, input: x.operand, output: y.operand), reads: [xName], writes: [outName])
        case .globalAveragePool:
            let (xName, x) = try nhwcSlot(node.inputs[0], node: node)
            guard x.shape.rank == 4 else { throw .unsupported(node: node.name, detail: "GlobalAveragePool on rank \(x.shape.rank)") }
            let y = define(outName)
            emit(.pool(.globalAverage(isa: options.isa, inHeight: x.shape[2], inWidth: x.shape[3], channels: x.shape[1]),
                       input: x.operand, output: y.operand), reads: [xName], writes: [outName])
        case .add, .mul, .binary:
            let kind: BinaryKind = switch node.op { case .add: .add; case .mul: .mul; case .binary(let f): .function(f); default: .add }
            try lowerBinary(node, kind)
        case .where, .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .pad, .shape, .size,
             .constantOfShape, .range, .cast, .resize, .convTranspose, .reduce, .globalMaxPool, .logSoftmax,
             .layerNormalization, .instanceNormalization:
            try lowerGeneral(node)
        case .flatten(let axis):
            if axis == 0 { throw .unsupported(node: node.name, detail: "Flatten at axis 0 (it mixes the images of a batch)") }
            try lowerRelayout(node)
        case .reshape:
            if graph.initializers[node.inputs[1]] == nil { throw .graph(.notConstant(node: node.name, input: node.inputs[1])) }
            if let target = graph.initializers[node.inputs[1]]?.data.doubles, let first = target.first, first != 0, first != -1, first != 1 {
                throw .unsupported(node: node.name, detail: "Reshape to a fixed batch size of \(Int(first)) (use 0 or -1 for the batch dimension)")
            }
            try lowerRelayout(node)
        case .identity, .dropout:
            try lowerRelayout(node)
        case .gemm(let attrs):
            try lowerDense(node, transB: attrs.transB, transA: attrs.transA, alpha: attrs.alpha, beta: attrs.beta)
        case .matMul:
            try lowerDense(node, transB: false, transA: false, alpha: 1, beta: 0)
        case .softmax(let axis, let coerce2D):
            let x = try slot(node.inputs[0], node: node)
            let a = axis < 0 ? axis + x.shape.rank : axis
            if a == 0 { throw .unsupported(node: node.name, detail: "Softmax over the batch axis") }
            if coerce2D {
                let (xName, x) = try rowMajorSlot(node.inputs[0], node: node)
                let y = define(outName, layout: .rowMajor)
                // Softmax over all axes from `a` on: the same as over one flattened axis.
                let outer = x.shape.dims[..<a].reduce(1, *), inner = x.shape.dims[a...].reduce(1, *)
                emit(.softmax(input: Slot(shape: [outer, inner], layout: .rowMajor, operand: x.operand),
                              output: Slot(shape: [outer, inner], layout: .rowMajor, operand: y.operand), axis: 1),
                     reads: [xName], writes: [outName])
            } else {
                let y = define(outName)
                emit(.softmax(input: x, output: y, axis: a), reads: node.inputs, writes: [outName])
            }
        case .quantizeLinear, .dequantizeLinear:
            throw .unsupported(node: node.name, detail: "\(node.op.onnxType) in the FP32 executor (QDQ models run on the INT8 executor)")
        case .concat(let axis):
            let xs = try node.inputs.map { (n: String) throws(RuntimeError) in try slot(n, node: node) }
            let a = axis < 0 ? axis + xs[0].shape.rank : axis
            if a == 0 { throw .unsupported(node: node.name, detail: "Concat over the batch axis") }
            let y = define(outName)
            emit(.concat(inputs: xs, axis: a, output: y), reads: node.inputs, writes: [outName])
        }
    }

    mutating func lowerRelayout(_ node: Node) throws(RuntimeError) {
        let x = try slot(node.inputs[0], node: node)
        let y = define(node.outputs[0])
        emit(.relayout(input: x, output: y), reads: [node.inputs[0]], writes: [node.outputs[0]])
    }

    /// Gemm / MatMul. With a constant B this is a 1×1 convolution over the rows of A (the
    /// GEMM kernels); otherwise a plain matrix product.
    mutating func lowerDense(_ node: Node, transB: Bool, transA: Bool, alpha: Float, beta: Float) throws(RuntimeError) {
        if case .matMul = node.op, graph.initializers[node.inputs[1]].map({ $0.shape.rank != 2 }) ?? true {
            return try lowerGeneral(node)  // batched or run-time B
        }
        let (aName, a) = try rowMajorSlot(node.inputs[0], node: node)
        if transA { throw .unsupported(node: node.name, detail: "Gemm with transA=1") }
        let y = define(node.outputs[0], layout: .rowMajor)
        let k = a.shape[a.shape.rank - 1]
        let rows = a.count / max(k, 1)
        guard let bTensor = graph.initializers[node.inputs[1]] else {
            guard alpha == 1, node.inputs.count < 3 || node.inputs[2].isEmpty || beta == 0, !transB else {
                throw .unsupported(node: node.name, detail: "Gemm with a run-time B and alpha/beta/transB")
            }
            let b = try slot(node.inputs[1], node: node)
            emit(.matMul(a: a.operand, b: b.operand, rows: rows, inner: k, columns: b.shape[1], output: y.operand),
                 reads: [aName, node.inputs[1]], writes: node.outputs)
            return
        }
        let lowering = try ConvLowering(node, input: a.shape, output: y.shape, weightShape: bTensor.shape)
        let w = lowering.realWeights(try constant(node.inputs[1], node: node))
        var bias: [Float]? = nil
        if node.inputs.count > 2, !node.inputs[2].isEmpty, beta != 0 {
            guard let c = lowering.bias(try constant(node.inputs[2], node: node), shape: graph.initializers[node.inputs[2]]?.shape ?? []) else {
                throw .unsupported(node: node.name, detail: "Gemm C that is not a row vector")
            }
            bias = c
        }
        let geometry = lowering.geometry
        let kernel = Conv2DKernel(geometry: geometry, weights: w, bias: bias, isa: options.isa)
        macs += geometry.macs
        maxScratch = max(maxScratch, kernel.scratchCount)
        emit(.conv(kernel, input: a.operand, residual: nil, output: y.operand), reads: [aName], writes: node.outputs)
    }

    /// Physical broadcast strides of a binary op; rank-4 values are NHWC, so operands are
    /// aligned in permuted (N, H, W, C) order.
    mutating func broadcastPlan(_ a: Slot, _ b: Slot, _ y: Slot, node: Node) throws(RuntimeError) -> BroadcastPlan {
        let rank = y.shape.rank
        let outDims = LayoutConversion.physicalDims(y.shape, y.layout)
        func strides(_ s: Slot) throws(RuntimeError) -> [Int] {
            let padded = Array(repeating: 1, count: rank - s.shape.rank) + s.shape.dims
            let logical = Shape(padded)
            let phys: [Int]
            if y.layout == .nhwc {
                if s.shape.rank < 4 && padded.filter({ $0 != 1 }).count > 1 {
                    throw .unsupported(node: node.name, detail: "broadcasting \(s.shape) against rank-4 \(y.shape)")
                }
                phys = LayoutConversion.physicalDims(logical, .nhwc)
            } else {
                phys = padded
            }
            let st = Shape(phys).strides
            return (0..<rank).map { phys[$0] == 1 && outDims[$0] != 1 ? 0 : st[$0] }
        }
        return BroadcastPlan(dims: outDims, aStrides: try strides(a), bStrides: try strides(b))
    }

    // MARK: - Memory

    /// Assigns arena offsets by liveness: a value's buffer is freed after its last reader.
    mutating func assignMemory() throws(RuntimeError) -> CompiledPlan {
        let slots = self.slots
        let inArena = { (v: String) -> Int? in
            guard let s = slots[v], case .arena = s.operand else { return nil }
            return s.count
        }
        let (offsets, arenaCount) = MemoryPlanner.assign(inputs: graph.inputs.map(\.name).filter { slots[$0] != nil }, reads: reads,
                                                         writes: produced, floats: inArena, keep: Set(graph.outputs.map(\.name)))
        func resolve(_ op: Operand, _ name: String?) -> Operand {
            if case .arena = op, let name, let o = offsets[name] { return .arena(o) }
            return op
        }
        // Rewrite every step's operands with their offsets.
        var byOperandName: [String: Operand] = [:]
        for (name, s) in slots { byOperandName[name] = resolve(s.operand, name) }
        func fix(_ s: Slot, _ name: String) -> Slot { var t = s; t.operand = byOperandName[name] ?? s.operand; return t }
        var fixed: [Step] = []
        for (i, step) in steps.enumerated() {
            let r = reads[i], w = produced[i]
            func op(_ name: String) -> Operand { byOperandName[name]! }
            switch step {
            case .conv(let k, _, let residual, _):
                fixed.append(.conv(k, input: op(r[0]), residual: residual == nil ? nil : op(r[1]), output: op(w[0])))
            case .convBands(let b, _, let residual, _):
                fixed.append(.convBands(b, input: op(r[0]), residual: residual == nil ? nil : op(r[1]), output: op(w[0])))
            case .pool(let k, _, _): fixed.append(.pool(k, input: op(r[0]), output: op(w[0])))
            case .binary(let kind, _, _, let plan, _): fixed.append(.binary(kind, a: op(r[0]), b: op(r[1]), plan, output: op(w[0])))
            case .clamp(_, _, let count, let lo, let hi): fixed.append(.clamp(input: op(r[0]), output: op(w[0]), count: count, min: lo, max: hi))
            case .channelAffine(_, _, let count, let channels, let inner, let scale, let shift):
                fixed.append(.channelAffine(input: op(r[0]), output: op(w[0]), count: count, channels: channels, inner: inner, scale: scale, shift: shift))
            case .relayout(let x, let y): fixed.append(.relayout(input: fix(x, r[0]), output: fix(y, w[0])))
            case .softmax(let x, let y, let axis):
                var xs = x; xs.operand = op(r[0]); var ys = y; ys.operand = op(w[0])
                fixed.append(.softmax(input: xs, output: ys, axis: axis))
            case .matMul(_, _, let rows, let inner, let cols, _): fixed.append(.matMul(a: op(r[0]), b: op(r[1]), rows: rows, inner: inner, columns: cols, output: op(w[0])))
            case .concat(let xs, let axis, let y):
                fixed.append(.concat(inputs: zip(xs, r).map { fix($0, $1) }, axis: axis, output: fix(y, w[0])))
            case .unary(let f, _, _, let count): fixed.append(.unary(f, input: op(r[0]), output: op(w[0]), count: count))
            case .activation(let k, _, _, let count): fixed.append(.activation(k, input: op(r[0]), output: op(w[0]), count: count))
            case .general(let g, _, _): fixed.append(.general(g, inputs: r.map(op), outputs: w.map(op)))
            case .chain(let k, _, _, let count): fixed.append(.chain(k, input: op(r[0]), output: op(w[0]), count: count))
            case .channelShuffle(_, _, let pixels, let groups, let perGroup):
                fixed.append(.channelShuffle(input: op(r[0]), output: op(w[0]), pixels: pixels, groups: groups, channelsPerGroup: perGroup))
            case .copyRows(_, _, let rows, let count, let stride, let offset):
                fixed.append(.copyRows(input: op(r[0]), output: op(w[0]), rows: rows, count: count, inStride: stride, inOffset: offset))
            case .int8, .floatIsland: fixed.append(step)
            }
        }
        let inputs = graph.inputs.compactMap { i -> (String, Slot)? in slots[i.name].map { (i.name, fix($0, i.name)) } }
        var outputs: [(String, Slot)] = []
        for o in graph.outputs {
            guard let s = slots[o.name] else { throw .graph(.missingOutput(o.name)) }
            outputs.append((o.name, fix(s, o.name)))
        }
        var resolved: [String: Slot] = [:]
        for (name, s) in slots { resolved[name] = fix(s, name) }
        let tail = BatchedTail(steps: fixed, reads: reads, writes: produced, slots: resolved,
                               graphOutputs: graph.outputs.map(\.name), isa: options.isa)
        let observed = produced.map { $0.filter { !internalValues.contains($0) }.compactMap { n in slots[n].map { (n, fix($0, n)) } } }
        var plan = CompiledPlan(isa: options.isa, tail: tail, steps: fixed, observed: observed, inputs: inputs, outputs: outputs,
                                arenaCount: arenaCount, scratchCount: maxScratch, macs: macs, labels: labels, stepMacs: stepMacs)
        plan.lateGroupStart = CompiledPlan.lateGroupStart(workingBytes: zip(reads, produced).map { r, w in
            (r + w).reduce(0) { $0 + (inArena($1) ?? 0) } * MemoryLayout<Float>.stride
        }, arenaFloats: arenaCount)
        return plan
    }
}

/// The result of compilation: steps with resolved operands and the memory they need.
struct CompiledPlan {
    /// The kernel path every step runs on.
    var isa: ISA
    /// The steps from `tail.first` on, run over several images at once when nothing observes them.
    var tail: BatchedTail?
    var steps: [Step]
    var observed: [[(String, Slot)]]
    var inputs: [(String, Slot)]
    var outputs: [(String, Slot)]
    var arenaCount: Int
    var scratchCount: Int
    var macs: Int
    var labels: [String]
    var stepMacs: [Int]
    /// Where the tensors of `.int8` steps live (INT8 plans only).
    var int8: Int8Memory? = nil

    /// Images a worker runs layer by layer (`WorkerContext.run(group:)`): as many arenas as fit
    /// `groupArenaBytes` together, at most `maxImageGroup`; 1 (image by image) for larger models.
    var imageGroup: Int { Self.imageGroup(arenaFloats: arenaCount) }
    /// Where a plan too large for `imageGroup` turns layer-major (`lateGroupStart(workingBytes:)`).
    var lateGroupStart: Int? = nil

    /// How a worker runs its images without an observer: groups of `images` images, each image
    /// running steps `0..<prefix` alone, then every later step over the whole group.
    var schedule: (images: Int, prefix: Int) {
        if imageGroup > 1 { return (imageGroup, 0) }
        if let k = lateGroupStart { return (Self.lateGroupImages, k) }
        return (1, 0)
    }

    /// The first step from which every step's tensors (`workingBytes[s]`: the bytes of what step s
    /// reads and writes in the arena) for `lateGroupImages` images fit `lateGroupBytes`, when
    /// there is such a step after the first: from there on a layer's weights are read once per
    /// group of images instead of once per image (ResNet-18's last layers hold 9.4 MB of FP32
    /// weights; an image's activations there, 0.2 MB). Nil when no such step, or when the group's
    /// arenas (each image of a group has a whole arena) would pass `lateGroupArenaBytes`.
    static func lateGroupStart(workingBytes: [Int], arenaFloats: Int) -> Int? {
        guard arenaFloats * MemoryLayout<Float>.stride * lateGroupImages <= lateGroupArenaBytes else { return nil }
        var k = workingBytes.count
        while k > 0 && workingBytes[k - 1] * lateGroupImages <= lateGroupBytes { k -= 1 }
        return k > 0 && k < workingBytes.count ? k : nil
    }
    /// Measured on Zen 4 (docs/benchmarks.md, "Layer-major groups from where activations are
    /// small"): 4 images and 1 MB gave ResNet-18 INT8 on the AVX2 path (8-bit weights as s16:
    /// 4.7 MB per layer4 convolution) 1.06–1.07× (medians of 8–10 alternating runs); the VNNI and
    /// AVX512BW paths, MobileNetV2 and RegNet-Y between 0.97× and 1.04×; 8 images no better.
    static let lateGroupImages = 4
    static let lateGroupBytes = 1024 * 1024
    /// Memory a worker may hold in arenas for one group (a model at a large input size keeps
    /// running image by image).
    static let lateGroupArenaBytes = 256 * 1024 * 1024

    /// `imageGroup` of a plan whose arena holds `arenaFloats` floats.
    static func imageGroup(arenaFloats: Int) -> Int {
        let bytes = max(arenaFloats, 1) * MemoryLayout<Float>.stride
        return max(1, min(maxImageGroup, groupArenaBytes / bytes))
    }
    /// Measured on Zen 4 (scripts/ab_bench.sh, two binaries): 256 KB and 8 images gave PP-OCR cls
    /// INT8 1.15× over image by image (medians of 16 alternating runs); 1 MB / 32 and 512 KB / 16
    /// no more in best-of runs; 4 MB (groups for MobileNetV3-Small at 224, a throwaway edit of
    /// this constant) 0.95× (medians of 10). Half of Zen 3's 512 KB L2 per core.
    static let groupArenaBytes = 256 * 1024
    static let maxImageGroup = 8
}
