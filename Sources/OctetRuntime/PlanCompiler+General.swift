import OctetCore
import OctetIR
import OctetKernels

/// Lowering of the broadcasting binary ops and the general operators.
extension PlanCompiler {
    /// Add, Mul and the other broadcasting binary functions: on NHWC operands when every rank-4
    /// operand is NHWC and the broadcast maps onto NHWC strides, else on row-major copies.
    mutating func lowerBinary(_ node: Node, _ kind: BinaryKind) throws(RuntimeError) {
        try checkBroadcastKeepsImagesApart(node)
        let outName = node.outputs[0]
        let a0 = try slot(node.inputs[0], node: node), b0 = try slot(node.inputs[1], node: node)
        let outRank = shapes[outName]?.rank ?? 0
        if outRank == 4, [a0, b0].allSatisfy({ $0.shape.rank != 4 || $0.layout == .nhwc }) {
            let y = define(outName, layout: .nhwc)
            if var plan = try? broadcastPlan(a0, b0, y, node: node) {
                plan.rowKernel = kind.rowKernel(isa: options.isa)
                emit(.binary(kind, a: a0.operand, b: b0.operand, plan, output: y.operand), reads: node.inputs, writes: [outName])
                return
            }
        }
        let (an, a) = try rowMajorSlot(node.inputs[0], node: node), (bn, b) = try rowMajorSlot(node.inputs[1], node: node)
        let y = define(outName, layout: .rowMajor)
        var plan = try broadcastPlan(a, b, y, node: node)
        plan.rowKernel = kind.rowKernel(isa: options.isa)
        emit(.binary(kind, a: a.operand, b: b.operand, plan, output: y.operand), reads: [an, bn], writes: [outName])
    }

    /// The plan runs images one by one (per-image shapes have a batch axis of 1), so a broadcast
    /// must not move an activation's batch axis or stretch it: refused naming the node.
    func checkBroadcastKeepsImagesApart(_ node: Node) throws(RuntimeError) {
        guard let out = shapes[node.outputs[0]] else { return }
        for v in node.inputs where !v.isEmpty && graph.initializers[v] == nil {
            guard let s = shapes[v] else { continue }
            if s.rank < out.rank || (s.rank == out.rank && s.rank > 0 && s[0] == 1 && out[0] != 1) {
                throw .unsupported(node: node.name, detail: "\(node.op.onnxType) broadcasting \(s) to \(out) across the batch axis (it mixes the images of a batch)")
            }
        }
    }

    /// Squeeze/Unsqueeze must keep an activation's batch axis first.
    func checkSqueezeKeepsBatchAxis(_ node: Node) throws(RuntimeError) {
        guard graph.initializers[node.inputs[0]] == nil, let x = shapes[node.inputs[0]], let y = shapes[node.outputs[0]] else { return }
        let axes = (node.inputs.count > 1 ? graph.initializers[node.inputs[1]]?.data.ints : nil)
        switch node.op {
        case .squeeze:
            let rank = x.rank
            if axes == nil && x.rank > 0 && x[0] == 1 {
                throw .unsupported(node: node.name, detail: "Squeeze without axes of \(x) (it would drop the batch axis; export with axes)")
            }
            if let axes, axes.contains(where: { ($0 < 0 ? $0 + rank : $0) == 0 }) {
                throw .unsupported(node: node.name, detail: "Squeeze of the batch axis")
            }
        case .unsqueeze:
            if let axes, axes.contains(where: { ($0 < 0 ? $0 + y.rank : $0) == 0 }) {
                throw .unsupported(node: node.name, detail: "Unsqueeze before the batch axis (it moves the batch axis)")
            }
        default: break
        }
    }

    /// A compile-time constant operand (expanded parameters).
    mutating func constantOperand(_ name: String, _ values: [Float]) -> String {
        let buffer = AlignedBuffer(values.isEmpty ? [0] : values)
        slots[name] = Slot(shape: [values.count], layout: .rowMajor, operand: .constant(buffer))
        return name
    }

    /// A constant input's value, or an error naming it when it is computed at run time.
    func constantInput(_ node: Node, _ i: Int) throws(RuntimeError) -> Tensor? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        guard let t = graph.initializers[node.inputs[i]] else {
            throw .unsupported(node: node.name, detail: "input '\(node.inputs[i])' computed at run time where a constant is expected")
        }
        return t
    }

    mutating func lowerGeneral(_ node: Node) throws(RuntimeError) {
        func fail(_ d: String) -> RuntimeError { .unsupported(node: node.name, detail: d) }
        func shape(_ i: Int) throws(RuntimeError) -> Shape {
            guard let s = shapes[node.inputs[i]] else { throw .graph(.undefinedValue(node: node.name, value: node.inputs[i])) }
            return s
        }
        let out0 = shapes[node.outputs[0]] ?? Shape([])
        let lookup: (Int) -> Tensor? = { [graph] i in i < node.inputs.count && !node.inputs[i].isEmpty ? graph.initializers[node.inputs[i]] : nil }
        /// Emits `op` over the row-major copies of inputs `data` (plus `extra` operands by name).
        func general(_ op: GeneralOp, data: [Int], extra: [String] = []) throws(RuntimeError) {
            var names: [String] = [], operands: [Operand] = []
            for i in data {
                let (n, s) = try rowMajorSlot(node.inputs[i], node: node)
                names.append(n); operands.append(s.operand)
            }
            for n in extra { names.append(n); operands.append(slots[n]!.operand) }
            let outs = node.outputs.map { define($0, layout: .rowMajor) }
            emit(.general(op, inputs: operands, outputs: outs.map(\.operand)), reads: names, writes: node.outputs)
        }
        do {
            switch node.op {
            case .transpose(let perm):
                let x = try shape(0)
                guard let v = StridedView.transpose(x, perm: perm) else { throw fail("Transpose perm \(perm ?? [])") }
                let p = perm ?? Array((0..<x.rank).reversed())
                if p.first != 0 && x.rank > 1 { throw fail("Transpose moving the batch axis (perm \(p))") }
                try general(.view(v), data: [0])
            case .slice:
                guard let v = StridedView.slice(try shape(0), starts: try constantInput(node, 1)?.data.ints ?? [],
                                                ends: try constantInput(node, 2)?.data.ints ?? [],
                                                axes: try constantInput(node, 3)?.data.ints, steps: try constantInput(node, 4)?.data.ints) else {
                    throw fail("Slice parameters")
                }
                let x = try shape(0)
                if x.rank == 4, slots[node.inputs[0]]?.layout == .nhwc, v.strides == x.strides,
                   v.dims[0] == x[0], v.dims[2] == x[2], v.dims[3] == x[3] {
                    // A channel range of an NHWC value: one run of channels per pixel.
                    let pixels = x[2] * x[3]
                    let (xName, xs) = try nhwcSlot(node.inputs[0], node: node)
                    let y = define(node.outputs[0], layout: .nhwc)
                    emit(.copyRows(input: xs.operand, output: y.operand, rows: pixels, count: v.dims[1], inStride: x[1],
                                   inOffset: pixels > 0 ? v.offset / pixels : 0), reads: [xName], writes: node.outputs)
                    return
                }
                try general(.view(v), data: [0])
            case .expand:
                try checkBroadcastKeepsImagesApart(node)
                guard let v = StridedView.broadcast(try shape(0), to: out0) else { throw fail("Expand to \(out0)") }
                try general(.view(v), data: [0])
            case .squeeze, .unsqueeze:
                try checkSqueezeKeepsBatchAxis(node)
                try lowerRelayout(node)
            case .gather(let axis):
                let x = try shape(0)
                let a = try Graph.axis(axis, rank: x.rank, node: node)
                guard let raw = try constantInput(node, 1)?.data.ints else { throw fail("Gather without indices") }
                if a == 0 && x.rank > 1 { throw fail("Gather over the batch axis of an activation") }
                guard let idx = DataMovement.normalizedIndices(raw, axisSize: x[a]) else {
                    throw RuntimeError.graph(.shapeMismatch(node: node.name, detail: "Gather index out of range for axis \(a) of \(x)"))
                }
                try general(.gather(shape: x, axis: a, indices: idx), data: [0])
            case .tile:
                try general(.tile(shape: try shape(0), repeats: try constantInput(node, 1)?.data.ints ?? []), data: [0])
            case .pad(let mode):
                let x = try shape(0)
                let pads = try PadSpec.resolve(node: node, rank: x.rank, constant: lookup)
                let value = Float(try constantInput(node, 2)?.data.doubles.first ?? 0)
                try general(.pad(shape: x, pads: pads, mode: mode, value: value), data: [0])
            case .split(let axis, _):
                let x = try shape(0)
                let a = try Graph.axis(axis, rank: x.rank, node: node)
                if a == 0 { throw fail("Split over the batch axis of an activation") }
                try general(.split(shape: x, axis: a, sizes: node.outputs.map { shapes[$0]?[a] ?? 0 }), data: [0])
            case .resize(let attrs):
                let x = try shape(0)
                let spec = try ResizeSpec.resolve(node: node, input: x, attributes: attrs, constant: lookup)
                let r = x.rank
                guard r >= 2, (0..<(r - 2)).allSatisfy({ spec.output[$0] == x[$0] }) else {
                    throw fail("Resize of axes other than the last two (\(x) to \(spec.output))")
                }
                let rows = FloatSemantics.resizeAxis(input: x[r - 2], output: spec.output[r - 2], scale: spec.scales[r - 2], attrs)
                let cols = FloatSemantics.resizeAxis(input: x[r - 1], output: spec.output[r - 1], scale: spec.scales[r - 1], attrs)
                if r == 4, x[0] == 1, slots[node.inputs[0]]?.layout == .nhwc {
                    // An NHWC image stays NHWC: no layout round trip around the Resize.
                    let (xName, xs) = try nhwcSlot(node.inputs[0], node: node)
                    let y = define(node.outputs[0], layout: .nhwc)
                    emit(.general(.resizeChannelsLast(inHeight: x[2], inWidth: x[3], channels: x[1], rows: rows, columns: cols),
                                  inputs: [xs.operand], outputs: [y.operand]), reads: [xName], writes: node.outputs)
                    return
                }
                try general(.resize(outer: x.dims.dropLast(2).reduce(1, *), inHeight: x[r - 2], inWidth: x[r - 1], rows: rows, columns: cols), data: [0])
            case .reduce(let kind, _, let noop):
                let x = try shape(0)
                let axes = try ReduceSpec.axes(node: node, rank: x.rank, noopWithEmptyAxes: noop, constant: lookup)
                if axes.isEmpty { return try lowerRelayout(node) }
                if axes.contains(0) && x.rank > 1 { throw fail("\(kind.rawValue) over the batch axis (it mixes the images of a batch)") }
                if kind == .mean, x.rank == 4, Set(axes) == [2, 3] {
                    // The mean over height and width is global average pooling: the NHWC kernel,
                    // whose C values are the output in either keepdims form.
                    let (xName, xs) = try nhwcSlot(node.inputs[0], node: node)
                    let y = define(node.outputs[0])
                    emit(.pool(.globalAverage(isa: options.isa, inHeight: x[2], inWidth: x[3], channels: x[1]),
                               input: xs.operand, output: y.operand), reads: [xName], writes: node.outputs)
                    return
                }
                try general(.reduce(kind, shape: x, axes: axes), data: [0])
            case .globalMaxPool:
                let x = try shape(0)
                try general(.globalMax(channels: x[1], spatial: x.dims[2...].reduce(1, *)), data: [0])
            case .logSoftmax(let axis, let coerce2D):
                let x = try shape(0)
                let a = try Graph.axis(axis, rank: x.rank, node: node)
                if a == 0 && x.rank > 1 { throw fail("LogSoftmax over the batch axis") }
                let outer = x.dims[..<a].reduce(1, *)
                let n = coerce2D ? x.dims[a...].reduce(1, *) : x[a]
                let inner = coerce2D ? 1 : x.dims[(a + 1)...].reduce(1, *)
                try general(.softmax(outer: outer, n: n, inner: inner, log: true), data: [0])
            case .layerNormalization(let axis, let eps):
                let x = try shape(0)
                let a = try Graph.axis(axis, rank: x.rank, node: node)
                let inner = Shape(Array(x.dims[a...]))
                func expanded(_ i: Int) throws(RuntimeError) -> [Float]? {
                    guard let t = try constantInput(node, i) else { return nil }
                    guard let f = t.floats, let v = StridedView.broadcast(t.shape, to: inner) else { throw fail("LayerNormalization parameter \(t.shape)") }
                    return v.apply(f)
                }
                var extra = [constantOperand(node.name + "#scale", try expanded(1) ?? [])]
                if let b = try expanded(2) { extra.append(constantOperand(node.name + "#bias", b)) }
                try general(.layerNorm(rows: x.elementCount / max(inner.elementCount, 1), inner: inner.elementCount, epsilon: eps), data: [0], extra: extra)
            case .instanceNormalization(let eps):
                let x = try shape(0)
                guard let scale = try constantInput(node, 1)?.floats, let bias = try constantInput(node, 2)?.floats else {
                    throw fail("InstanceNormalization with non-float parameters")
                }
                let extra = [constantOperand(node.name + "#scale", scale), constantOperand(node.name + "#bias", bias)]
                try general(.instanceNorm(channels: x[1], spatial: x.dims[2...].reduce(1, *), epsilon: eps), data: [0], extra: extra)
            case .matMul:
                let a = try shape(0), b = try shape(1)
                guard let s = MatMulShape(a, b) else { throw fail("MatMul of \(a) and \(b)") }
                let full = { (batch: [Int], mat: [Int]) -> StridedView? in
                    batch == s.batch ? nil : StridedView.broadcast(Shape(batch + mat), to: Shape(s.batch + mat))
                }
                try general(.matMul(s, aView: full(s.aBatch, [s.m, s.k]), bView: full(s.bBatch, [s.k, s.n])), data: [0, 1])
            case .where:
                try checkBroadcastKeepsImagesApart(node)
                guard let vc = StridedView.broadcast(try shape(0), to: out0), let va = StridedView.broadcast(try shape(1), to: out0),
                      let vb = StridedView.broadcast(try shape(2), to: out0) else { throw fail("Where broadcast") }
                try general(.where(vc, va, vb), data: [0, 1, 2])
            case .cast(let to, let toBool):
                try general(.cast(truncate: to != .float32, toBool: toBool, count: out0.elementCount), data: [0])
            case .convTranspose(let attrs):
                try lowerConvTranspose(node, attrs)
            case .shape, .size, .constantOfShape, .range:
                throw fail("\(node.op.onnxType) of values computed at run time")
            default:
                throw fail("internal: \(node.op.onnxType) is not a general operator")
            }
        } catch let e as RuntimeError {
            throw e
        } catch let e as GraphError {
            throw .graph(e)
        } catch {
            throw fail("\(error)")
        }
    }

    /// ConvTranspose: a 1×1 GEMM into per-pixel tap columns, then their scatter-add (col2im).
    mutating func lowerConvTranspose(_ node: Node, _ attrs: ConvTransposeAttributes) throws(RuntimeError) {
        let (xName, x) = try nhwcSlot(node.inputs[0], node: node)
        guard let wt = graph.initializers[node.inputs[1]] else {
            throw .unsupported(node: node.name, detail: "ConvTranspose weights computed at run time")
        }
        let w = try constant(node.inputs[1], node: node)
        let bias = try constantInput(node, 2)?.floats
        let (cin, h, wd) = (x.shape[1], x.shape[2], x.shape[3])
        let geometry = ConvTransposeGeometry(attrs, input: x.shape, weightShape: wt.shape)
        let gemm = geometry.gemm(inChannels: cin)
        let kernel = Conv2DKernel(geometry: gemm, weights: geometry.gemmWeights(w, inChannelsPerGroup: cin / attrs.group), bias: nil, isa: options.isa)
        macs += gemm.macs
        maxScratch = max(maxScratch, kernel.scratchCount)
        let columns = node.name + "#columns"
        shapes[columns] = [h * wd * geometry.columnsPerPixel]
        internalValues.insert(columns)
        let c = define(columns)
        emit(.conv(kernel, input: x.operand, residual: nil, output: c.operand), reads: [xName], writes: [columns])
        var reads = [columns]
        if let bias { reads.append(constantOperand(node.name + "#bias", bias)) }
        let y = define(node.outputs[0], layout: .nhwc)
        emit(.general(.col2im(geometry), inputs: reads.map { slots[$0]!.operand }, outputs: [y.operand]), reads: reads, writes: [node.outputs[0]])
    }
}
