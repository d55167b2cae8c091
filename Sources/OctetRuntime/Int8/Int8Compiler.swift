import OctetCore
import OctetIR
import OctetKernels
import OctetPasses

/// Lowers a QDQ graph to integer steps (see `Int8Plan`).
struct Int8Compiler {
    enum Value {
        case u8(slot: Int, params: QuantParams)
        /// Codes quantized per channel of an NCHW tensor (NNCF's depthwise inputs): `params`
        /// holds the zero point, `scales` each channel's scale. Only a depthwise convolution reads
        /// them (`QDQParameters.perChannelActivationProblem`), so no other lowering sees this case.
        case u8PerChannel(slot: Int, params: QuantParams, scales: [Float])
        case float(slot: Int)
        /// A DequantizeLinear of an activation: the real values of a u8 tensor, not materialized.
        case dequant(of: String)
    }

    /// The QDQ graph with its input shapes fixed and shape arithmetic folded (`SpecializeShapes`).
    var graph: Graph
    /// Per-image shapes (batch 1) of the model inputs.
    let inputShapes: [String: Shape]
    let isa: ISA?
    /// Fuse a residual Add into the convolution producing one of its operands where the kernel
    /// can, and a table activation into the convolution whose output only it reads (the
    /// convolution's own u8 output is then never materialized).
    let fuseIntoConvolutions: Bool
    /// u8 slots whose tensors a fused Add or table made unnecessary (never written).
    var fusedAway = Set<Int>()
    /// u8 slots read under more than one name (a QuantizeLinear or data movement that changes
    /// no code): never fused away, since another name still reads them.
    var aliasedSlots = Set<Int>()
    /// u8 slots written by a data-movement copy: the logical view of the source slot they hold.
    var movedViews: [Int: (source: Int, view: StridedView)] = [:]
    var shapes: [String: Shape] = [:]
    var values: [String: Value] = [:]
    var u8Sizes: [Int] = []
    var floatSizes: [Int] = []
    var steps: [Int8Step] = []
    var macs = 0
    var inputSlots: [(name: String, slot: Int, shape: Shape)] = []
    var outputSlots: [(name: String, slot: Int, shape: Shape)] = []
    var materialized: [String: Int] = [:]
    /// Nodes waiting to be compiled as one float island (graph indices, in order).
    var pendingIsland: [Int] = []
    var islandCount = 0
    /// QuantizeLinear nodes already lowered with the island before them (a table step).
    var loweredAhead = Set<Int>()
    /// The specialized graph's producer and readers of each value (set once `compile` has it).
    var producers: [String: Int] = [:]
    var consumers: [String: [Int]] = [:]

    init(graph: Graph, inputShapes: [String: Shape], isa: ISA?, fuseIntoConvolutions: Bool) {
        self.graph = graph
        self.inputShapes = inputShapes
        self.isa = isa
        self.fuseIntoConvolutions = fuseIntoConvolutions
    }

    mutating func newU8(_ name: String, _ params: QuantParams) -> Int {
        u8Sizes.append(shapes[name]?.elementCount ?? 1)
        values[name] = .u8(slot: u8Sizes.count - 1, params: params)
        return u8Sizes.count - 1
    }

    mutating func newU8PerChannel(_ name: String, _ params: QuantParams, scales: [Float]) -> Int {
        u8Sizes.append(shapes[name]?.elementCount ?? 1)
        values[name] = .u8PerChannel(slot: u8Sizes.count - 1, params: params, scales: scales)
        return u8Sizes.count - 1
    }

    mutating func newFloat(_ name: String) -> Int {
        floatSizes.append(shapes[name]?.elementCount ?? 1)
        values[name] = .float(slot: floatSizes.count - 1)
        return floatSizes.count - 1
    }

    func fail(_ node: Node, _ detail: String) -> RuntimeError { .unsupported(node: node.name, detail: detail) }

    /// The u8 tensor and parameters behind a dequantized activation `name`.
    func quantized(_ name: String) -> (slot: Int, params: QuantParams)? {
        guard case .dequant(let of)? = values[name], case .u8(let slot, let params)? = values[of] else { return nil }
        return (slot, params)
    }

    /// The per-channel codes behind a dequantized activation `name` (see `Value.u8PerChannel`).
    func quantizedPerChannel(_ name: String) -> (slot: Int, params: QuantParams, scales: [Float])? {
        guard case .dequant(let of)? = values[name], case .u8PerChannel(let slot, let params, let scales)? = values[of] else { return nil }
        return (slot, params, scales)
    }

    /// A float slot holding `name`'s real values, dequantizing once if needed.
    mutating func floatSlot(_ name: String, for node: Node) throws(RuntimeError) -> Int {
        switch values[name] {
        case .float(let slot)?: return slot
        case .dequant?:
            if let s = materialized[name] { return s }
            guard let (src, params) = quantized(name) else {
                throw fail(node, "per-channel codes of '\(name)' read by a layer without an integer step")
            }
            let saved = values[name]
            let dst = newFloat(name)
            values[name] = saved
            steps.append(.dequantize(src: src, dst: dst, params: params))
            materialized[name] = dst
            return dst
        default:
            throw fail(node, "input '\(name)' (constant or unsupported) where an activation is expected")
        }
    }

    /// The DequantizeLinear of a constant that produces `name`: the node, its axis, codes and scales.
    func dequantizedConstant(_ name: String) -> (dq: Node, axis: Int, codes: Tensor, scales: [Float])? {
        guard let p = producers[name], case .dequantizeLinear(let axis) = graph.nodes[p].op else { return nil }
        let dq = graph.nodes[p]
        guard let q = graph.initializers[dq.inputs[0]], let s = graph.initializers[dq.inputs[1]]?.floats else { return nil }
        return (dq, axis, q, s)
    }

    /// The shape of a constant `constant(name)` would read, without computing its values.
    func constantShape(_ name: String) -> Shape? {
        if let t = graph.initializers[name], t.floats != nil { return t.shape }
        return dequantizedConstant(name)?.codes.shape
    }

    /// Real values of a constant, dequantizing DequantizeLinear(initializer) outputs.
    func constant(_ name: String) -> (values: [Float], quantized: [Int32]?, scales: [Float], shape: Shape)? {
        if let t = graph.initializers[name], let f = t.floats { return (f, nil, [1], t.shape) }
        guard let (dq, axis, q, s) = dequantizedConstant(name) else { return nil }
        let zp = dq.inputs.count > 2 ? graph.initializers[dq.inputs[2]]?.data.doubles ?? [0] : [0]
        let codes = q.data.doubles
        let a = axis < 0 ? axis + q.shape.rank : axis
        let inner = q.shape.rank > a ? q.shape.dims[(a + 1)...].reduce(1, *) : 1
        let ch = q.shape.rank > a ? q.shape[a] : 1
        var real = [Float](repeating: 0, count: codes.count)
        var centered = [Int32](repeating: 0, count: codes.count)
        // Runs of `inner` values share a channel (its scale and zero point).
        var i = 0, run = 0
        while i < codes.count {
            let c = s.count == 1 ? 0 : run % ch
            let z = zp[zp.count == 1 ? 0 : c], scale = Double(s[c])
            let end = s.count == 1 ? codes.count : min(codes.count, i + max(inner, 1))
            for k in i..<end {
                real[k] = Float((codes[k] - z) * scale)
                centered[k] = Int32(codes[k] - z)
            }
            i = end
            run += 1
        }
        return (real, centered, s, q.shape)
    }

    mutating func compile() throws(RuntimeError) {
        var g = graph
        for i in g.inputs.indices where g.inputs[i].dims.count >= 1 { g.inputs[i].dims[0] = nil }
        do { (graph, shapes) = try SpecializeShapes.apply(FoldBatchNormIntoQuantizedConv.apply(FoldQuantizedConstants.apply(g)), inputShapes: inputShapes) } catch { throw .graph(error) }
        try QDQParameters.validate(graph, shapes: shapes)
        producers = graph.producers
        consumers = graph.consumers
        for input in graph.inputs {
            guard let shape = inputShapes[input.name] else { continue }
            inputSlots.append((input.name, newFloat(input.name), shape))
        }
        let match = FusionMatcher(graph)
        // Which QuantizeLinear each quantizable node (and its Relu/Clip) fuses into.
        var fusedInto: [Int: (q: Int, act: Int?)] = [:]
        var skip = Set<Int>()
        for qi in graph.nodes.indices {
            guard let (p, act) = match.quantizedPattern(endingAt: qi, fusible: Self.hasIntegerStep) else { continue }
            fusedInto[p] = (qi, act)
            skip.insert(qi)
            if let act { skip.insert(act) }
        }
        // A Relu/Clip that is a convolution's only consumer but not followed by a QuantizeLinear
        // (e.g. between two layers kept in FP32) becomes that convolution's float clamp.
        var floatActs: [Int: (index: Int, node: Node)] = [:]
        for (i, node) in graph.nodes.enumerated() where fusedInto[i] == nil {
            switch node.op { case .conv, .gemm, .matMul: break; default: continue }
            guard let j = match.activation(after: node.outputs[0]), !skip.contains(j) else { continue }
            floatActs[i] = (j, graph.nodes[j])
            skip.insert(j)
        }
        for (i, node) in graph.nodes.enumerated() {
            if skip.contains(i) { continue }
            guard hasIntegerLowering(node, fusedActivation: fusedInto[i].map { $0.act.map { graph.nodes[$0] } }) else {
                // FP32 island: the node, and the activation and QuantizeLinear that were to fuse
                // into its integer step run on their own (the QuantizeLinear after the island).
                pendingIsland.append(i)
                if let f = fusedInto[i] { skip.remove(f.q); if let a = f.act { skip.remove(a) } }
                if let a = floatActs[i] { skip.remove(a.index) }
                continue
            }
            try flushIsland()
            if loweredAhead.contains(i) { continue }
            if let act = floatActs[i] {
                try lowerConv(node, fused: nil, floatAct: act.node)
                continue
            }
            try lower(node, fused: fusedInto[i].map { (graph.nodes[$0.q], $0.act.map { graph.nodes[$0] }) })
        }
        try flushIsland()
        for o in graph.outputs {
            let slot = try floatSlot(o.name, for: Node(name: "output", op: .identity, inputs: [], outputs: []))
            outputSlots.append((o.name, slot, shapes[o.name] ?? [1]))
        }
        dropUnreadMoves()
    }

    /// The ops that fuse with a following [activation →] QuantizeLinear into one integer step.
    static func hasIntegerStep(_ op: Op) -> Bool {
        switch op {
        case .conv, .gemm, .matMul, .add, .mul, .concat, .maxPool, .averagePool, .globalAveragePool: true
        case .reduce(.mean, _, _): true   // over height and width: the global average (`isSpatialMean`)
        default: false
        }
    }

    /// Output parameters and clamp bounds of a fused QuantizeLinear (after an optional activation).
    func outputSpec(_ q: Node, _ act: Node?) throws(RuntimeError) -> (params: QuantParams, lo: Int32, hi: Int32) {
        let spec = try channelOutputSpec(q, act)
        guard spec.scales.count == 1 else {
            throw fail(q, "\(spec.scales.count) scales where this layer writes one (per-channel codes feed only depthwise convolutions)")
        }
        return (spec.params, spec.lo, spec.hi)
    }

    /// `outputSpec` of a QuantizeLinear that may be per channel: the parameters with the first
    /// scale, every scale, and clamp bounds that hold for every channel (a clip that falls on
    /// different codes per channel is refused).
    func channelOutputSpec(_ q: Node, _ act: Node?) throws(RuntimeError) -> (params: QuantParams, scales: [Float], lo: Int32, hi: Int32) {
        guard let scales = graph.initializers[q.inputs[1]]?.floats, !scales.isEmpty else { throw fail(q, "QuantizeLinear with a non-constant scale") }
        var spec: (params: QuantParams, lo: Int32, hi: Int32)? = nil
        for s in scales {
            let c = try outputSpec(q, act, scale: s)
            if let first = spec, first.lo != c.lo || first.hi != c.hi {
                throw fail(q, "the clip before it falls on different codes per channel")
            }
            if spec == nil { spec = c }
        }
        guard let spec else { throw fail(q, "QuantizeLinear with no scale") }
        return (spec.params, scales, spec.lo, spec.hi)
    }

    /// The shift of `q`'s codes. Signed activations (ONNX Runtime's default QInt8) run as unsigned
    /// ones shifted by 128: code q in [-128, 127] with zero point z is code q + 128 in [0, 255]
    /// with zero point z + 128, the same real value, and every rounding and clamp maps one to one
    /// (Mul, which adds its zero point in float before rounding, adds the signed one and shifts
    /// after: `Int8Arithmetic.product`). This is the "+128 shift" that lets u8 x s8 instructions
    /// (vpdpbusd, vpmaddubsw) take s8 inputs; the per-channel weight-sum compensation it needs is
    /// the zero-point term every kernel has.
    func codeShift(_ q: Node) throws(RuntimeError) -> Int32 {
        let zp = q.inputs.count > 2 ? graph.initializers[q.inputs[2]] : nil
        switch zp?.dtype {
        case nil, .uint8?: return 0
        case .int8?: return 128
        case let other?: throw fail(q, "QuantizeLinear to \(other) (only uint8 and int8 activations are supported)")
        }
    }

    /// `outputSpec` with scale `s`.
    func outputSpec(_ q: Node, _ act: Node?, scale s: Float) throws(RuntimeError) -> (params: QuantParams, lo: Int32, hi: Int32) {
        let zp = q.inputs.count > 2 ? graph.initializers[q.inputs[2]] : nil
        let shift = try codeShift(q)
        let params = QuantParams(scale: s, zeroPoint: Int32(zp?.data.doubles.first ?? 0) + shift, dtype: .uint8)
        var lo: Int32 = 0, hi: Int32 = 255
        switch act?.op {
        case .relu?: lo = params.zeroPoint
        case .clip(let a, let b)?:
            if a.isFinite { lo = Int32(params.quantize(a)) }
            if b.isFinite { hi = Int32(params.quantize(b)) }
        default: break
        }
        return (params, lo, hi)
    }


    mutating func lower(_ node: Node, fused: (q: Node, act: Node?)?) throws(RuntimeError) {
        let out = fused?.q.outputs[0] ?? node.outputs[0]
        if node.op.keepsQuantization, quantized(node.inputs[0]) != nil { return try lowerDataMovement(node) }
        switch node.op {
        case .quantizeLinear where (graph.initializers[node.inputs[1]]?.shape.elementCount ?? 1) > 1:
            // Per channel (NNCF's depthwise input after a float activation): from the float values only.
            let spec = try channelOutputSpec(node, nil)
            guard quantized(node.inputs[0]) == nil, shapes[node.inputs[0]]?.rank == 4 else {
                throw fail(node, "a per-channel QuantizeLinear of codes (requantizing per channel is not supported)")
            }
            let src = try floatSlot(node.inputs[0], for: node)
            steps.append(.quantizeChannels(src: src, dst: newU8PerChannel(out, spec.params, scales: spec.scales),
                                           scales: spec.scales, zeroPoint: spec.params.zeroPoint, fast: isa))
        case .quantizeLinear:
            let (params, _, _) = try outputSpec(node, nil)
            if let (src, p) = quantized(node.inputs[0]) {
                if p == params {
                    // Quantizing a dequantized tensor with its own parameters gives its codes
                    // (ONNX Runtime's Q after data movement): the same slot, no step.
                    values[out] = .u8(slot: src, params: params)
                    aliasedSlots.insert(src)
                    return
                }
                let dst = newU8(out, params)
                steps.append(.requantize(src: src, dst: dst, multiplier: Int8Arithmetic.multiplier(p.scale, 1, over: params.scale),
                                         zeroIn: p.zeroPoint, zeroOut: params.zeroPoint, fast: isa))
            } else {
                let src = try floatSlot(node.inputs[0], for: node)
                steps.append(.quantize(src: src, dst: newU8(out, params), params: params, fast: isa))
            }
        case .dequantizeLinear:
            if graph.initializers[node.inputs[0]] != nil { return }  // constants are read by their consumers
            // The codes read with this node's own parameters: those they were written with, or
            // (a file whose DequantizeLinear differs from its QuantizeLinear) the same slot
            // under this node's parameters, as ONNX defines it.
            let spec = try channelOutputSpec(node, nil)
            let slot: Int, written: Bool   // whether the codes were written with these parameters
            switch values[node.inputs[0]] {
            case .u8(let s, let params)?: (slot, written) = (s, spec.scales.count == 1 && spec.params == params)
            case .u8PerChannel(let s, let params, let scales)?: (slot, written) = (s, spec.scales == scales && spec.params.zeroPoint == params.zeroPoint)
            default: throw fail(node, "DequantizeLinear of a non-uint8 activation")
            }
            var codes = node.inputs[0]
            if !written {
                codes += "#as " + node.name
                values[codes] = spec.scales.count == 1 ? .u8(slot: slot, params: spec.params)
                                                       : .u8PerChannel(slot: slot, params: spec.params, scales: spec.scales)
                aliasedSlots.insert(slot)
            }
            values[out] = .dequant(of: codes)
        case .conv, .gemm, .matMul:
            try lowerConv(node, fused: fused)
        case .convTranspose:
            try lowerConvTranspose(node)
        case .pad:
            try lowerPad(node)
        case .add:
            guard let fused, let a = quantized(node.inputs[0]), let b = quantized(node.inputs[1]),
                  shapes[node.inputs[0]] == shapes[node.inputs[1]] else { throw fail(node, "Add that is not between two quantized tensors of one shape") }
            let (py, lo, hi) = try outputSpec(fused.q, fused.act)
            let ma = Int8Arithmetic.multiplier(a.params.scale, 1, over: py.scale), mb = Int8Arithmetic.multiplier(b.params.scale, 1, over: py.scale)
            let add = Int8ConvKernel.ResidualAdd(ma: ma, mb: mb, constant: Int8Arithmetic.addConstant(ma: ma, za: a.params.zeroPoint, mb: mb,
                                                 zb: b.params.zeroPoint, zy: py.zeroPoint), lo: lo, hi: hi, convolutionIsSecond: false)
            if try fuseIntoConvolution(node, add, output: (out, py)) { return }
            let dst = newU8(out, py)
            steps.append(.add(a: a.slot, b: b.slot, dst: dst, ma: ma, za: a.params.zeroPoint, mb: mb, zb: b.params.zeroPoint,
                              zy: py.zeroPoint, lo: lo, hi: hi, fast: isa))
        case .concat:
            guard let fused, let layout = concatLayout(node) else { throw fail(node, "Concat that is not of quantized tensors") }
            let (py, _, _) = try outputSpec(fused.q, nil)
            var parts: [ConcatPart] = []
            for (name, inner) in zip(node.inputs, layout.inner) {
                guard let x = quantized(name) else { throw fail(node, "Concat input '\(name)' is not quantized") }
                parts.append(ConcatPart(slot: x.slot, inner: inner, zeroIn: x.params.zeroPoint,
                                        multiplier: x.params == py ? nil : Int8Arithmetic.multiplier(x.params.scale, 1, over: py.scale)))
            }
            steps.append(.concat(parts: parts, dst: newU8(out, py), outer: layout.outer, zeroOut: py.zeroPoint, fast: isa))
        case .mul:
            guard let fused, let a = quantized(node.inputs[0]), let b = quantized(node.inputs[1]),
                  let shape = mulShape(node) else { throw fail(node, "Mul that is not between two quantized tensors") }
            let (py, lo, hi) = try outputSpec(fused.q, fused.act)
            let (first, second) = shape.swapped ? (b, a) : (a, b)
            let m = Int8Arithmetic.multiplier(a.params.scale, b.params.scale, over: py.scale)
            let shift = try codeShift(fused.q)
            steps.append(.mul(QuantizedMul(a: first.slot, b: second.slot, dst: newU8(out, py), za: first.params.zeroPoint,
                                           zb: second.params.zeroPoint, zy: py.zeroPoint - shift, codeOffset: shift, m: m, lo: lo, hi: hi,
                                           pixels: shape.pixels,
                                           channels: shape.channels, broadcastB: shape.broadcast, fast: isa)))
        case .maxPool(let w, _), .averagePool(let w, _, _):
            guard let fused, let x = quantized(node.inputs[0]), let s = shapes[node.inputs[0]], let o = shapes[node.outputs[0]] else {
                throw fail(node, "pooling outside a quantized pattern")
            }
            let (py, _, _) = try outputSpec(fused.q, fused.act)
            let pads = w.resolvedPads(input: [s[2], s[3]])
            let window = PoolWindow(inH: s[2], inW: s[3], channels: s[1], outH: o[2], outW: o[3], kh: w.kernel[0], kw: w.kernel[1],
                                    sh: w.strides[0], sw: w.strides[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3])
            if case .averagePool(_, _, let include) = node.op {
                steps.append(.averagePool(src: x.slot, dst: newU8(out, py), window: window, zeroIn: x.params.zeroPoint,
                                          scales: AverageScales(input: x.params.scale, output: py.scale), zeroOut: py.zeroPoint, countIncludePad: include,
                                          fast: isa))
            } else if x.params == py {
                steps.append(.maxPool(src: x.slot, dst: newU8(out, py), window: window, fast: isa))
            } else {
                let tmp = newU8(out + "#max", x.params)
                shapes[out + "#max"] = o
                u8Sizes[tmp] = o.elementCount
                steps.append(.maxPool(src: x.slot, dst: tmp, window: window, fast: isa))
                steps.append(.requantize(src: tmp, dst: newU8(out, py), multiplier: Int8Arithmetic.multiplier(x.params.scale, 1, over: py.scale),
                                         zeroIn: x.params.zeroPoint, zeroOut: py.zeroPoint, fast: isa))
            }
        case .globalAveragePool, .reduce(.mean, _, _):
            guard let x = quantized(node.inputs[0]), let s = shapes[node.inputs[0]], s.rank == 4, isSpatialMean(node) else {
                throw fail(node, "\(node.op.onnxType) outside a quantized pattern")
            }
            guard let fused else {
                steps.append(.spatialMeanFloat(src: x.slot, dst: newFloat(out), pixels: s[2] * s[3], channels: s[1],
                                               zeroPoint: x.params.zeroPoint, scale: x.params.scale, fast: isa))
                return
            }
            let (py, _, _) = try outputSpec(fused.q, fused.act)
            let window = PoolWindow(inH: s[2], inW: s[3], channels: s[1], outH: 1, outW: 1, kh: s[2], kw: s[3], sh: 1, sw: 1,
                                    padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
            steps.append(.averagePool(src: x.slot, dst: newU8(out, py), window: window, zeroIn: x.params.zeroPoint,
                                      scales: AverageScales(input: x.params.scale, output: py.scale), zeroOut: py.zeroPoint, countIncludePad: false,
                                      fast: isa))
        case .relu, .clip:
            let (lo, hi) = Self.clampBounds(node)
            let src = try floatSlot(node.inputs[0], for: node)
            steps.append(.clampFloat(src: src, dst: newFloat(out), min: lo, max: hi))
        case .flatten, .reshape, .identity, .dropout:
            let src = try floatSlot(node.inputs[0], for: node)
            steps.append(.relayoutFloat(src: src, dst: newFloat(out), inShape: shapes[node.inputs[0]]!, outShape: shapes[out]!))
        case .softmax(let axis, let coerce2D):
            let s = shapes[node.inputs[0]]!
            let a = axis < 0 ? axis + s.rank : axis
            guard s.rank != 4, coerce2D || a == s.rank - 1 else { throw fail(node, "Softmax over a non-last axis") }
            let columns = s.dims[a...].reduce(1, *)
            let src = try floatSlot(node.inputs[0], for: node)
            steps.append(.softmaxFloat(src: src, dst: newFloat(out), rows: s.elementCount / max(columns, 1), columns: columns, fast: isa))
        case .batchNormalization, .unary, .binary, .where, .transpose, .slice, .split, .squeeze, .unsqueeze,
             .expand, .gather, .tile, .shape, .size, .constantOfShape, .range, .cast, .resize, .reduce,
             .globalMaxPool, .logSoftmax, .layerNormalization, .instanceNormalization:
            throw fail(node, "\(node.op.onnxType) in an INT8 model")
        }
    }

    /// Whether `node` averages each channel of an NCHW tensor over its height and width:
    /// GlobalAveragePool, or ReduceMean over axes 2 and 3 (either keepdims: the same C values).
    func isSpatialMean(_ node: Node) -> Bool {
        switch node.op {
        case .globalAveragePool: return true
        case .reduce(.mean, _, let noop):
            guard let s = shapes[node.inputs[0]], s.rank == 4 else { return false }
            let constant: (Int) -> Tensor? = { [graph] i in i < node.inputs.count && !node.inputs[i].isEmpty ? graph.initializers[node.inputs[i]] : nil }
            return (try? ReduceSpec.axes(node: node, rank: 4, noopWithEmptyAxes: noop, constant: constant)) == [2, 3]
        default: return false
        }
    }

    /// A Concat over the physical layout (NHWC for rank 4): `outer` rows, each the inputs' blocks
    /// of `inner[i]` elements in turn.
    func concatLayout(_ node: Node) -> (outer: Int, inner: [Int])? {
        guard case .concat(let axis) = node.op, let y = shapes[node.outputs[0]] else { return nil }
        let a = axis < 0 ? axis + y.rank : axis
        guard a > 0, a < y.rank else { return nil }
        // The logical axis's position among the physical dimensions.
        let physical = y.rank == 4 ? [0, 2, 3, 1] : Array(0..<y.rank)
        guard let pa = physical.firstIndex(of: a) else { return nil }
        var inner: [Int] = []
        for x in node.inputs {
            guard let s = shapes[x], s.rank == y.rank else { return nil }
            inner.append(physical[pa...].map { s[$0] }.reduce(1, *))
        }
        return (physical[..<pa].map { y[$0] }.reduce(1, *), inner)
    }

    /// How a quantized Mul covers its operands: both of one shape (one row of every element), or
    /// `[1, C, H, W]` by a `[1, C, 1, 1]` gate (NHWC: H·W rows of C, the gate broadcast over them;
    /// `swapped` when the gate is the first input).
    func mulShape(_ node: Node) -> (pixels: Int, channels: Int, broadcast: Bool, swapped: Bool)? {
        guard let sa = shapes[node.inputs[0]], let sb = shapes[node.inputs[1]], let so = shapes[node.outputs[0]] else { return nil }
        if sa == sb { return (1, sa.elementCount, false, false) }
        func gate(_ big: Shape, _ small: Shape) -> Bool {
            big.rank == 4 && small.rank == 4 && small[0] == big[0] && small[1] == big[1] && small[2] == 1 && small[3] == 1
        }
        if gate(sa, sb), so == sa { return (sa[2] * sa[3], sa[1], true, false) }
        if gate(sb, sa), so == sb { return (sb[2] * sb[3], sb[1], true, true) }
        return nil
    }

    /// Fuses the Add `node` into the convolution producing one of its operands (the later one,
    /// so that the other operand exists when it runs), if that convolution's output feeds only
    /// this Add and its kernel can fuse. Returns whether it did.
    mutating func fuseIntoConvolution(_ node: Node, _ add: Int8ConvKernel.ResidualAdd, output: (name: String, params: QuantParams)) throws(RuntimeError) -> Bool {
        guard fuseIntoConvolutions, let isa else { return false }
        let graphOutputs = Set(graph.outputs.map(\.name))
        /// The index of the step that writes u8 slot `slot`.
        func writer(of slot: Int) -> Int? { steps.lastIndex { $0.results.u8.contains(slot) } }
        guard let a = quantized(node.inputs[0]), let b = quantized(node.inputs[1]), a.slot != b.slot,
              let wa = writer(of: a.slot), let wb = writer(of: b.slot) else { return false }
        guard !aliasedSlots.contains(wb > wa ? b.slot : a.slot) else { return false }
        let second = wb > wa   // fuse into the later writer
        let (operand, j) = second ? (node.inputs[1], wb) : (node.inputs[0], wa)
        guard case .conv(let c) = steps[j], c.residual == nil, let kernel = c.fast,
              case .quantized(_, let m, let zp, let lo, let hi) = c.output,
              Int8ConvKernel.canFuseResidualAdd(kernel.geometry, isa: isa),
              // DequantizeLinear(QuantizeLinear(conv)) feeds only this Add.
              consumers[operand]?.count == 1, !graphOutputs.contains(operand),
              let dq = producers[operand], let codes = graph.nodes[dq].inputs.first,
              consumers[codes]?.count == 1, !graphOutputs.contains(codes) else { return false }
        var fusedAdd = add
        fusedAdd.convolutionIsSecond = second
        fusedAway.insert(second ? b.slot : a.slot)
        let dst = newU8(output.name, output.params)
        c.output = .quantized(slot: dst, multipliers: m, zeroPoint: zp, lo: lo, hi: hi)
        c.residual = (second ? a.slot : b.slot, fusedAdd)
        c.fast = Int8ConvKernel(geometry: kernel.geometry, inputZeroPoint: c.inputZero, weights: c.weights, bias: c.bias,
                                output: .quantized(multipliers: m, zeroPoint: zp, lo: lo, hi: hi), residualAdd: fusedAdd, isa: isa)
        return true
    }

    /// A Conv/Gemm kept in FP32: dequantized (or float) input and weights on the FP32 kernels,
    /// with the Relu/Clip `act` (if any) as the kernel's clamp.
    mutating func lowerFloatConv(_ node: Node, act: Node?) throws(RuntimeError) {
        guard let w = constant(node.inputs[1]) else { throw fail(node, "\(node.op.onnxType) without constant weights") }
        guard let xs = shapes[node.inputs[0]], let ys = shapes[node.outputs[0]] else { throw fail(node, "a layer without inferred shapes") }
        let lowering = try ConvLowering(node, input: xs, output: ys, weightShape: w.shape)
        let geometry = lowering.geometry
        let weights = lowering.realWeights(w.values)
        var bias: [Float]? = nil
        if node.inputs.count > 2, !node.inputs[2].isEmpty, let b = constant(node.inputs[2]) {
            guard let real = lowering.bias(b.values, shape: b.shape) else { throw fail(node, "a bias that is not a row vector") }
            bias = real
        }
        let src = try floatSlot(node.inputs[0], for: node)
        // FP32 islands always run the best FP32 kernel, whatever INT8 path is forced: FP32 sums in
        // another order would change the codes downstream, and every INT8 path must stay
        // bit-identical to the reference executor.
        let (lo, hi) = Self.clampBounds(act)
        let kernel = Conv2DKernel(geometry: geometry, weights: weights, bias: bias, activationMin: lo, activationMax: hi, isa: .best)
        steps.append(.floatConv(kernel, src: src, dst: newFloat(act?.outputs[0] ?? node.outputs[0])))
    }

    /// The float clamp of a Relu or Clip node (none for nil).
    static func clampBounds(_ act: Node?) -> (Float, Float) {
        act?.op.clampBounds ?? (-.infinity, .infinity)
    }

    /// - Parameter floatAct: a Relu/Clip to apply to a float output (no QuantizeLinear follows).
    mutating func lowerConv(_ node: Node, fused: (q: Node, act: Node?)?, floatAct: Node? = nil) throws(RuntimeError) {
        let perChannelInput = quantizedPerChannel(node.inputs[0])
        guard let x = quantized(node.inputs[0]) ?? perChannelInput.map({ ($0.slot, $0.params) }),
              let w = constant(node.inputs[1]), let wq = w.quantized else {
            // Input or weights not quantized: the layer was kept in FP32; its activation fuses
            // into the FP32 kernel and the QuantizeLinear that was to fuse runs on its output.
            try lowerFloatConv(node, act: fused?.act ?? floatAct)
            if let fused { try lower(fused.q, fused: nil) }
            return
        }
        guard let xs = shapes[node.inputs[0]], let ys = shapes[node.outputs[0]] else { throw fail(node, "a layer without inferred shapes") }
        let lowering = try ConvLowering(node, input: xs, output: ys, weightShape: w.shape)
        let geometry = lowering.geometry
        let weights = lowering.ohwi(wq)   // [outC][kh][kw][inC/groups]
        let scales = lowering.alpha == 1 ? w.scales : w.scales.map { $0 * lowering.alpha }
        let outC = geometry.outChannels
        let wScales = scales.count == 1 ? Array(repeating: scales[0], count: outC) : scales
        guard wScales.count == outC else { throw fail(node, "weight scales do not match \(outC) output channels") }
        // The input scale of each output channel: one, or (per-channel codes into a depthwise
        // convolution) that of the one input channel the output channel reads.
        let xScales: [Float]
        if let perChannelInput {
            let channels = perChannelInput.scales.count
            guard geometry.groups == channels, geometry.inChannelsPerGroup == 1, outC % channels == 0 else {
                throw fail(node, "per-channel input codes into a convolution that is not depthwise")
            }
            xScales = (0..<outC).map { perChannelInput.scales[$0 / (outC / channels)] }
        } else {
            xScales = Array(repeating: x.params.scale, count: outC)
        }
        // Bias: a DequantizeLinear'd s32 constant with scale sx·sw, or a float constant quantized here.
        var bias = [Int32](repeating: 0, count: outC)
        if node.inputs.count > 2, !node.inputs[2].isEmpty, let b = constant(node.inputs[2]) {
            let gemmBeta = lowering.beta
            let full = b.values.count == 1 ? Array(repeating: b.values[0], count: outC) : b.values
            // Each channel's sx·sw, rounded to Float as `quantizeBias` rounds sx·sw itself.
            bias = WeightQuantizer.quantizeBias(full.map { $0 * gemmBeta }, inputScale: 1, weightScales: zip(xScales, wScales).map { $0 * $1 }).q
            if let bq = b.quantized, bq.count == outC, gemmBeta == 1, !b.scales.isEmpty,
               (0..<outC).allSatisfy({ o in
                   let sb = Double(b.scales[b.scales.count == 1 ? 0 : o % b.scales.count])
                   return abs(sb - Double(xScales[o]) * Double(wScales[o])) <= 1e-6 * sb
               }) {
                bias = bq
            }
        }
        let output: ConvOutput
        if let fused {
            let spec = try channelOutputSpec(fused.q, fused.act)
            guard spec.scales.count == 1 || spec.scales.count == outC else {
                throw fail(fused.q, "\(spec.scales.count) output scales for \(outC) channels")
            }
            let yScales = spec.scales.count == 1 ? Array(repeating: spec.params.scale, count: outC) : spec.scales
            let slot = spec.scales.count == 1 ? newU8(fused.q.outputs[0], spec.params)
                                              : newU8PerChannel(fused.q.outputs[0], spec.params, scales: spec.scales)
            output = .quantized(slot: slot, multipliers: (0..<outC).map { Int8Arithmetic.multiplier(xScales[$0], wScales[$0], over: yScales[$0]) },
                                zeroPoint: spec.params.zeroPoint, lo: spec.lo, hi: spec.hi)
        } else {
            let (lo, hi) = Self.clampBounds(floatAct)
            output = .float(slot: newFloat(floatAct?.outputs[0] ?? node.outputs[0]),
                            scales: (0..<outC).map { Float(Double(xScales[$0]) * Double(wScales[$0])) }, min: lo, max: hi)
        }
        appendConv(geometry, input: x, weights: weights, bias: bias, output: output)
    }

    /// Appends the integer convolution step of `geometry` over the u8 tensor `x`, with weights
    /// `[outC][kh][kw][inC/groups]` (codes, zero point 0) and s32 `bias`: the reference step and,
    /// on a SIMD path, its C kernel.
    mutating func appendConv(_ geometry: ConvGeometry, input x: (slot: Int, params: QuantParams), weights: [Int32], bias: [Int32],
                             output: ConvOutput) {
        let outC = geometry.outChannels
        let taps = geometry.kernel.h * geometry.kernel.w, cpg = geometry.inChannelsPerGroup
        var tapSums = [Int32](repeating: 0, count: outC * taps)
        for o in 0..<outC { for t in 0..<taps { for c in 0..<cpg { tapSums[o * taps + t] += weights[(o * taps + t) * cpg + c] } } }
        macs += geometry.macs
        let int8Weights = weights.map { Int8(clamping: $0) }
        var fast: Int8ConvKernel? = nil
        if let isa {
            let stage: Int8ConvKernel.Output
            switch output {
            case .quantized(_, let m, let zp, let lo, let hi): stage = .quantized(multipliers: m, zeroPoint: zp, lo: lo, hi: hi)
            case .float(_, let s, let lo, let hi): stage = .float(scales: s, min: lo, max: hi)
            }
            fast = Int8ConvKernel(geometry: geometry, inputZeroPoint: x.params.zeroPoint, weights: int8Weights, bias: bias, output: stage, isa: isa)
        }
        let g = geometry
        steps.append(.conv(ConvInt8(inH: g.inHeight, inW: g.inWidth, inC: g.inPixelStride, outH: g.outHeight, outW: g.outWidth,
                                    outC: outC, kh: g.kernel.h, kw: g.kernel.w, sh: g.stride.h, sw: g.stride.w, dh: g.dilation.h,
                                    dw: g.dilation.w, padTop: g.padTop, padLeft: g.padLeft, groups: g.groups,
                                    input: x.slot, inputZero: x.params.zeroPoint,
                                    weights: int8Weights, tapSums: tapSums, bias: bias, output: output, fast: fast)))
    }
}
