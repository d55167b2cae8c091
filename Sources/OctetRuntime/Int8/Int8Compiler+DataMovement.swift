import OctetCore
import OctetIR
import OctetKernels

/// Data movement of quantized tensors on their codes. Moving elements commutes with
/// dequantization, so Transpose, Slice, Split, Gather, Reshape, Flatten, Squeeze, Unsqueeze,
/// Identity and nearest Resize of a dequantized activation are run on its u8 codes, whatever
/// the file says around them: the result is the same tensor, with the same parameters, that
/// the FP32 op would give, and no FP32 island is needed. (ONNX Runtime quantizes these ops with
/// the input's scale, `DQ → Transpose → Q`; that QuantizeLinear then changes nothing and is
/// free, see `lower(.quantizeLinear)`.)
///
/// Each op is one strided view of the input's buffer (`StridedView`), read in the output's
/// physical order (NHWC for rank 4, row-major otherwise): one copy, or none when the view is
/// the whole buffer in order (a Reshape or Flatten of a row-major tensor).
///
/// A linear Resize is not a view, but it keeps the input's parameters too (a blend of
/// neighbours never leaves their range): it runs on the codes as well (`BilinearResizeKernel`).
extension Int8Compiler {
    /// Physical axis j of a tensor of `rank` holds logical axis `physicalOrder(rank)[j]`.
    static func physicalOrder(_ rank: Int) -> [Int] {
        LayoutConversion.layout(for: Shape(Array(repeating: 1, count: rank))) == .nhwc ? [0, 2, 3, 1] : Array(0..<rank)
    }

    /// The tensor of logical `shape` as a view of its physical buffer (axes in logical order).
    static func physicalView(_ shape: Shape) -> StridedView {
        let order = physicalOrder(shape.rank)
        let physical = Shape(order.map { shape[$0] }).strides
        var strides = [Int](repeating: 0, count: shape.rank)
        for (j, axis) in order.enumerated() { strides[axis] = physical[j] }
        return StridedView(dims: shape.dims, strides: strides)
    }

    /// A constant integer input of `node` (nil when absent or computed at run time).
    func constantInts(_ node: Node, _ i: Int) -> [Int]? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        return graph.initializers[node.inputs[i]]?.data.ints
    }

    /// Each output of a data-movement `node` as a view, in the output's logical order, of the
    /// buffer that `input` (default: the input's own physical buffer) reads in the input's
    /// logical order; nil when the op is not one view (a Reshape that reorders a strided input
    /// is two, see `lowerDataMovement`) or would mix the images of a batch.
    func dataMovementViews(_ node: Node, input: StridedView? = nil) -> [StridedView]? {
        guard let xs = shapes[node.inputs[0]], xs.rank >= 1, xs[0] == 1 else { return nil }
        let outputs = node.outputs.filter { !$0.isEmpty }
        let outShapes = outputs.compactMap { shapes[$0] }
        // Per-image plans see batch 1: an op that moves the batch axis would mix images.
        guard outShapes.count == outputs.count, outShapes.allSatisfy({ $0.rank >= 1 && $0[0] == 1 }) else { return nil }
        let x = input ?? Self.physicalView(xs)
        func axis(_ a: Int) -> Int? {
            let k = a < 0 ? a + xs.rank : a
            return k > 0 && k < xs.rank ? k : nil   // never the batch axis
        }
        switch node.op {
        case .transpose(let perm):
            guard perm?.first ?? (xs.rank == 1 ? 0 : 1) == 0, let v = x.transposed(perm) else { return nil }
            return [v]
        case .slice:
            guard let starts = constantInts(node, 1), let ends = constantInts(node, 2) else { return nil }
            let axes = constantInts(node, 3)
            guard (axes ?? Array(0..<starts.count)).allSatisfy({ axis($0) != nil }),
                  let v = x.sliced(starts: starts, ends: ends, axes: axes, steps: constantInts(node, 4)) else { return nil }
            return [v]
        case .split(let a, _):
            guard let a = axis(a) else { return nil }
            var start = 0, views: [StridedView] = []
            for s in outShapes {
                guard let v = x.sliced(starts: [start], ends: [start + s[a]], axes: [a], steps: nil) else { return nil }
                views.append(v)
                start += s[a]
            }
            return start == xs[a] ? views : nil
        case .gather(let a):
            // Constant indices in arithmetic progression (a scalar index, a run, a stride): a slice.
            guard let a = axis(a), let raw = constantInts(node, 1), !raw.isEmpty,
                  let idx = DataMovement.normalizedIndices(raw, axisSize: xs[a]) else { return nil }
            let step = idx.count > 1 ? idx[1] - idx[0] : 1
            guard step != 0, idx.indices.allSatisfy({ idx[$0] == idx[0] + $0 * step }) else { return nil }
            let end = idx[0] + idx.count * step
            guard let v = x.sliced(starts: [idx[0]], ends: [step > 0 ? end : (end < 0 ? Int.min : end)], axes: [a], steps: [step]),
                  let r = v.reshaped(outShapes[0].dims) else { return nil }
            return [r]
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout:
            guard let v = x.reshaped(outShapes[0].dims) else { return nil }
            return [v]
        default:
            return nil
        }
    }

    /// The ops that keep the row-major order of the elements (a new shape for the same sequence).
    static func isReshape(_ op: Op) -> Bool {
        switch op {
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout: true
        default: false
        }
    }

    /// Whether `node` moves the codes of a quantized input (`lowerDataMovement` can lower it).
    func movesCodes(_ node: Node) -> Bool {
        guard node.op.keepsQuantization, quantized(node.inputs[0]) != nil else { return false }
        if case .resize = node.op { return resizeAxes(node) != nil }
        if Self.isReshape(node.op) {
            // Always possible (through a row-major copy when the view is not one); a Dropout's
            // mask output must be unused.
            guard let xs = shapes[node.inputs[0]], let ys = shapes[node.outputs[0]] else { return false }
            return xs.rank >= 1 && xs[0] == 1 && ys.rank >= 1 && ys[0] == 1
                && node.outputs.dropFirst().allSatisfy { $0.isEmpty || (consumers[$0] ?? []).isEmpty }
        }
        return dataMovementViews(node) != nil
    }

    /// The source rows and columns of a Resize of the height and width of an NHWC image (for
    /// nearest, `lower` is the source; for linear, `weight` is the share of `upper`).
    func resizeAxes(_ node: Node) -> (inWidth: Int, channels: Int, rows: FloatSemantics.ResizeAxis, columns: FloatSemantics.ResizeAxis)? {
        guard case .resize(let attrs) = node.op, let x = shapes[node.inputs[0]], x.rank == 4, x[0] == 1 else { return nil }
        let lookup: (Int) -> Tensor? = { [graph] i in i < node.inputs.count && !node.inputs[i].isEmpty ? graph.initializers[node.inputs[i]] : nil }
        guard let spec = try? ResizeSpec.resolve(node: node, input: x, attributes: attrs, constant: lookup),
              spec.output[0] == x[0], spec.output[1] == x[1] else { return nil }
        let rows = FloatSemantics.resizeAxis(input: x[2], output: spec.output[2], scale: spec.scales[2], attrs)
        let columns = FloatSemantics.resizeAxis(input: x[3], output: spec.output[3], scale: spec.scales[3], attrs)
        return (x[3], x[1], rows, columns)
    }

    /// Lowers a data-movement `node` of a quantized input to copies of codes; each output is a
    /// dequantized activation with the input's parameters.
    /// A Pad of a quantized activation as a step on its codes, or nil when it is not one: the
    /// batch axis unpadded, constant pads, and in constant mode a value that is exactly a code
    /// (0 always is), so the padded codes dequantize to the padded real values and any reader
    /// sees what the FP32 Pad gives. `shape` and `pads` are in physical axis order.
    func padLowering(_ node: Node) -> (shape: Shape, pads: [Int], mode: PadMode, code: UInt8)? {
        guard case .pad(let mode) = node.op, let x = quantized(node.inputs[0]), let xs = shapes[node.inputs[0]], xs.rank >= 1,
              let pads = try? PadSpec.resolve(node: node, rank: xs.rank, constant: { [graph] i in
                  i < node.inputs.count && !node.inputs[i].isEmpty ? graph.initializers[node.inputs[i]] : nil
              }),
              pads[0] == 0, pads[xs.rank] == 0 else { return nil }
        var code: UInt8 = 0
        if mode == .constant {
            let value = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]]?.data.doubles.first : 0
            guard let value else { return nil }
            code = x.params.quantize(Float(value))
            guard Float(Int32(code) - x.params.zeroPoint) * x.params.scale == Float(value) else { return nil }
        }
        let order = Self.physicalOrder(xs.rank)
        return (Shape(order.map { xs[$0] }), order.map { pads[$0] } + order.map { pads[$0 + xs.rank] }, mode, code)
    }

    mutating func lowerPad(_ node: Node) throws(RuntimeError) {
        guard let x = quantized(node.inputs[0]), let p = padLowering(node) else { throw fail(node, "Pad that is not on codes") }
        // The padded codes under `OUT#codes`, the output their dequantization (as data movement's).
        let codes = node.outputs[0] + "#codes"
        shapes[codes] = shapes[node.outputs[0]]
        steps.append(.padU8(src: x.slot, dst: newU8(codes, x.params), shape: p.shape, pads: p.pads, mode: p.mode, code: p.code))
        values[node.outputs[0]] = .dequant(of: codes)
    }

    mutating func lowerDataMovement(_ node: Node) throws(RuntimeError) {
        guard case .dequant(let codes)? = values[node.inputs[0]], let (src, params) = quantized(node.inputs[0]),
              let xs = shapes[node.inputs[0]] else { throw fail(node, "data movement of a tensor that is not quantized") }
        let label = "\(node.op.onnxType.lowercased()) u8"
        /// A new u8 tensor for output `name` (its codes are `name#codes`).
        func output(_ name: String) -> Int {
            let inner = name + "#codes"
            shapes[inner] = shapes[name]
            let slot = newU8(inner, params)
            values[name] = .dequant(of: inner)
            return slot
        }
        if case .resize(let attrs) = node.op, let r = resizeAxes(node) {
            switch attrs.mode {
            case .nearest:
                steps.append(.resizeNearestU8(src: src, dst: output(node.outputs[0]), inWidth: r.inWidth, channels: r.channels,
                                              rows: r.rows.lower, columns: r.columns.lower))
            case .linear:
                let kernel = BilinearResizeKernel(inWidth: r.inWidth, channels: r.channels,
                                                  rows: (r.rows.lower, r.rows.upper, r.rows.weight),
                                                  columns: (r.columns.lower, r.columns.upper, r.columns.weight))
                steps.append(.resizeLinearU8(src: src, dst: output(node.outputs[0]), kernel: kernel, isa: isa ?? .scalar))
            }
            return
        }
        // A chain of data movement (a channel shuffle: Reshape, Transpose, Reshape) is one copy:
        // when the input was itself moved, this op reads the same source through the composed
        // view, and the intermediate copy is dropped if nothing else reads it (`dropUnreadMoves`).
        var source = src
        var sourceCodes: String? = codes   // the name of `source`'s codes, when it has one
        let base = movedViews[src] ?? (src, Self.physicalView(xs))
        var views = dataMovementViews(node, input: base.view)
        if views != nil {
            if base.source != src { (source, sourceCodes) = (base.source, nil) }
        } else if Self.isReshape(node.op), let ys = shapes[node.outputs[0]],
                  let groups = base.view.reshapedAxes(ys.dims) {
            // A reshape that is no single view of the input (the last Reshape of a channel
            // shuffle: the channel axis walks two axes of the source) is still one copy, its
            // axes read in the output's physical order.
            let axes = Self.physicalOrder(ys.rank).flatMap { groups[$0] }
            let view = StridedView(dims: axes.map(\.size), strides: axes.map(\.stride), offset: base.view.offset)
            steps.append(.moveU8(src: base.source, dst: output(node.outputs[0]), view: view, label: label, fast: isa))
            return
        } else if base.source != src {
            views = dataMovementViews(node)   // the moved input as it was written
        }
        if views == nil, Self.isReshape(node.op), let ys = shapes[node.outputs[0]] {
            // Shapes that do not nest ([6, 4] as [4, 6]) of a strided input: first into
            // row-major order, which any reshape then reads as one view.
            let rowMajor = node.outputs[0] + "#rowmajor"
            shapes[rowMajor] = xs
            source = newU8(rowMajor, params)
            sourceCodes = rowMajor
            steps.append(.moveU8(src: base.source, dst: source, view: base.view, label: label, fast: isa))
            views = StridedView(dims: xs.dims, strides: xs.strides).reshaped(ys.dims).map { [$0] }
        }
        guard let views else { throw fail(node, "\(node.op.onnxType) that is not a view of its input") }
        for (name, view) in zip(node.outputs.filter { !$0.isEmpty }, views) {
            guard let ys = shapes[name], let physical = view.transposed(Self.physicalOrder(ys.rank)) else {
                throw fail(node, "output '\(name)' without a shape")
            }
            if let sourceCodes, physical.offset == 0, physical.isContiguous, physical.count == u8Sizes[source] {
                values[name] = .dequant(of: sourceCodes)   // the same bytes in the same order: no copy
                aliasedSlots.insert(source)
                continue
            }
            let dst = output(name)
            steps.append(.moveU8(src: source, dst: dst, view: physical, label: label, fast: isa))
            movedViews[dst] = (source, view)
        }
    }

    /// Removes the data-movement copies whose result no step reads (the intermediate copies of
    /// a chain that later steps read through a composed view).
    mutating func dropUnreadMoves() {
        var read = Set<Int>()
        var kept: [Int8Step] = []
        for step in steps.reversed() {
            if case .moveU8(_, let dst, _, _, _) = step, !read.contains(dst) { continue }
            read.formUnion(step.operands.u8)
            kept.append(step)
        }
        steps = kept.reversed()
    }
}
