import OctetCore

extension Graph {
    /// Shapes of every value (inputs, initializers, node outputs) for concrete input shapes.
    /// Values that shapes depend on (Reshape targets, Slice bounds, axes, pads, scales) must be
    /// initializers; `SpecializeShapes` folds the shape arithmetic of a graph into them first.
    /// Throws naming the node whose inputs do not fit its operator.
    public func inferShapes(inputShapes: [String: Shape]) throws(GraphError) -> [String: Shape] {
        var shapes: [String: Shape] = [:]
        for (name, t) in initializers { shapes[name] = t.shape }
        for input in inputs where initializers[input.name] == nil {
            guard let s = inputShapes[input.name] else { throw .missingInput(input.name) }
            try input.check(s)
            shapes[input.name] = s
        }
        for node in nodes {
            var ins: [Shape] = []
            for v in node.inputs {
                if v.isEmpty { ins.append(Shape([])); continue }
                guard let s = shapes[v] else { throw .undefinedValue(node: node.name, value: v) }
                ins.append(s)
            }
            let outs = try outputShapes(of: node, inputs: ins) { i in
                i < node.inputs.count && !node.inputs[i].isEmpty ? initializers[node.inputs[i]] : nil
            }
            for (o, s) in zip(node.outputs, outs) where !o.isEmpty { shapes[o] = s }
        }
        return shapes
    }

    /// The shapes of a node's outputs from its input shapes; `constant(i)` gives input `i`'s
    /// value when it is known (nil otherwise, or for an absent optional input).
    public func outputShapes(of node: Node, inputs ins: [Shape], constant: (Int) -> Tensor?) throws(GraphError) -> [Shape] {
        switch node.op {
        case .split(let axis, let count):
            let x = ins[0]
            let a = try Self.axis(axis, rank: x.rank, node: node)
            let sizes: [Int]
            if node.inputs.count > 1, !node.inputs[1].isEmpty {
                guard let t = constant(1) else { throw .notConstant(node: node.name, input: node.inputs[1]) }
                sizes = t.data.ints
            } else {
                guard let s = DataMovement.equalSplit(x[a], outputs: count) else {
                    throw .shapeMismatch(node: node.name, detail: "cannot split axis of \(x[a]) into \(count) parts")
                }
                sizes = s
            }
            guard sizes.count == count, sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == x[a] else {
                throw .shapeMismatch(node: node.name, detail: "Split sizes \(sizes) do not cover axis \(a) of \(x) in \(count) outputs")
            }
            return sizes.map { var s = x; s[a] = $0; return s }
        case .dropout:
            let s = try outputShape(of: node, inputs: ins, constant: constant)
            return Array(repeating: s, count: node.outputs.count)
        default:
            return [try outputShape(of: node, inputs: ins, constant: constant)]
        }
    }

    /// An axis in `-rank..<rank` made non-negative.
    public static func axis(_ axis: Int, rank: Int, node: Node) throws(GraphError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard (0..<rank).contains(a) else {
            throw .shapeMismatch(node: node.name, detail: "axis \(axis) out of range for rank \(rank)")
        }
        return a
    }

    /// A constant input's values as ints, or a `.notConstant` error naming it.
    public static func ints(_ constant: (Int) -> Tensor?, _ i: Int, _ node: Node) throws(GraphError) -> [Int]? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        guard let t = constant(i) else { throw .notConstant(node: node.name, input: node.inputs[i]) }
        return t.data.ints
    }

    private func outputShape(of node: Node, inputs ins: [Shape], constant: (Int) -> Tensor?) throws(GraphError) -> Shape {
        func fail(_ detail: String) -> GraphError { .shapeMismatch(node: node.name, detail: detail) }
        switch node.op {
        case .conv(let window, let group):
            let x = ins[0], w = ins[1]
            guard x.rank == 4 else { throw .unsupported(node: node.name, detail: "Conv on rank-\(x.rank) input \(x) (only 2-D convolution, NCHW)") }
            guard w.rank == 4 else { throw fail("Conv weight \(w) must be rank 4") }
            guard group >= 1, x[1] == w[1] * group, w[0] % group == 0 else {
                throw fail("Conv input \(x) with group \(group) does not match weight \(w)")
            }
            guard window.kernel == [w[2], w[3]] else { throw fail("kernel_shape \(window.kernel) differs from weight \(w)") }
            if ins.count > 2, ins[2].rank > 0, ins[2] != Shape([w[0]]) { throw fail("Conv bias \(ins[2]) must be [\(w[0])]") }
            let o = window.outputSize(input: [x[2], x[3]])
            guard o[0] > 0, o[1] > 0 else { throw fail("Conv output would be empty for input \(x)") }
            return [x[0], w[0], o[0], o[1]]
        case .batchNormalization:
            let x = ins[0]
            guard x.rank >= 2 else { throw fail("BatchNormalization input \(x) needs a channel axis") }
            for p in ins.dropFirst() where p != Shape([x[1]]) { throw fail("BatchNormalization parameter \(p) must be [\(x[1])]") }
            return x
        case .relu, .clip, .identity, .dropout, .quantizeLinear, .dequantizeLinear, .unary, .cast:
            return ins[0]
        case .softmax(let axis, _), .logSoftmax(let axis, _):
            guard (-ins[0].rank..<max(ins[0].rank, 1)).contains(axis) else { throw fail("Softmax axis \(axis) out of range for \(ins[0])") }
            return ins[0]
        case .maxPool(let window, let ceilMode), .averagePool(let window, let ceilMode, _):
            let x = ins[0]
            guard x.rank == 4 else { throw .unsupported(node: node.name, detail: "pooling on rank-\(x.rank) input \(x) (only 2-D, NCHW)") }
            let o = window.outputSize(input: [x[2], x[3]], ceilMode: ceilMode)
            guard o[0] > 0, o[1] > 0 else { throw fail("pooling output would be empty for input \(x)") }
            return [x[0], x[1], o[0], o[1]]
        case .globalAveragePool:
            let x = ins[0]
            guard x.rank >= 3 else { throw fail("GlobalAveragePool input \(x) needs spatial axes") }
            return Shape([x[0], x[1]] + Array(repeating: 1, count: x.rank - 2))
        case .add, .mul, .binary:
            if case .binary(.prelu) = node.op {
                guard Shape.broadcast(ins[0], ins[1]) == ins[0] else { throw fail("PRelu slope \(ins[1]) does not broadcast to \(ins[0])") }
                return ins[0]
            }
            guard let s = Shape.broadcast(ins[0], ins[1]) else { throw fail("cannot broadcast \(ins[0]) with \(ins[1])") }
            return s
        case .flatten(let axis):
            let x = ins[0]
            let a = axis < 0 ? axis + x.rank : axis
            guard (0...x.rank).contains(a) else { throw fail("Flatten axis \(axis) out of range for \(x)") }
            return [x.dims[..<a].reduce(1, *), x.dims[a...].reduce(1, *)]
        case .reshape(let allowZero):
            guard let t = constant(1) else { throw .notConstant(node: node.name, input: node.inputs[1]) }
            return try Shape.reshaped(ins[0], to: t.data.ints, allowZero: allowZero)
                .get(orThrow: fail("cannot reshape \(ins[0]) (\(ins[0].elementCount) elements) to \(t.data.ints)"))
        case .gemm(let a):
            let (x, w) = (ins[0], ins[1])
            guard x.rank == 2, w.rank == 2 else { throw fail("Gemm needs rank-2 inputs, got \(x) and \(w)") }
            let (m, k) = a.transA ? (x[1], x[0]) : (x[0], x[1])
            let (k2, n) = a.transB ? (w[1], w[0]) : (w[0], w[1])
            guard k == k2 else { throw fail("Gemm inner dimensions differ: \(x) and \(w)") }
            if ins.count > 2, ins[2].rank > 0, Shape.broadcast(ins[2], [m, n]) != Shape([m, n]) {
                throw fail("Gemm C \(ins[2]) does not broadcast to [\(m),\(n)]")
            }
            return [m, n]
        case .matMul:
            return try MatMulShape(ins[0], ins[1]).get(orThrow: fail("MatMul of \(ins[0]) and \(ins[1]): inner or batch dimensions differ")).output
        case .concat(let axis):
            let first = ins[0]
            let a = axis < 0 ? axis + first.rank : axis
            guard (0..<first.rank).contains(a) else { throw fail("Concat axis \(axis) out of range for \(first)") }
            var out = first
            for s in ins.dropFirst() {
                guard s.rank == first.rank, (0..<s.rank).allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
                    throw fail("Concat inputs \(first) and \(s) differ off axis \(a)")
                }
                out[a] += s[a]
            }
            return out
        case .where:
            guard let ab = Shape.broadcast(ins[1], ins[2]), let s = Shape.broadcast(ins[0], ab) else {
                throw fail("cannot broadcast Where inputs \(ins[0]), \(ins[1]), \(ins[2])")
            }
            return s
        case .transpose(let perm):
            return try StridedView.transpose(ins[0], perm: perm).map { Shape($0.dims) }
                .get(orThrow: fail("perm \(perm ?? []) is not a permutation of \(ins[0].rank) axes"))
        case .slice:
            let starts = try Self.ints(constant, 1, node) ?? [], ends = try Self.ints(constant, 2, node) ?? []
            let axes = try Self.ints(constant, 3, node), steps = try Self.ints(constant, 4, node)
            return try StridedView.slice(ins[0], starts: starts, ends: ends, axes: axes, steps: steps).map { Shape($0.dims) }
                .get(orThrow: fail("Slice starts \(starts) ends \(ends) axes \(axes ?? []) steps \(steps ?? []) do not fit \(ins[0])"))
        case .split:
            throw fail("internal: Split has several outputs")
        case .squeeze:
            let x = ins[0]
            if let axes = try Self.ints(constant, 1, node) {
                var drop = Set<Int>()
                for a in axes {
                    let k = try Self.axis(a, rank: x.rank, node: node)
                    guard x[k] == 1 else { throw fail("cannot squeeze axis \(a) of \(x): its size is not 1") }
                    drop.insert(k)
                }
                return Shape(x.dims.enumerated().filter { !drop.contains($0.offset) }.map(\.element))
            }
            return Shape(x.dims.filter { $0 != 1 })
        case .unsqueeze:
            let x = ins[0]
            let axes = try Self.ints(constant, 1, node) ?? []
            let rank = x.rank + axes.count
            var inserted = Set<Int>()
            for a in axes {
                let k = a < 0 ? a + rank : a
                guard (0..<rank).contains(k), inserted.insert(k).inserted else { throw fail("Unsqueeze axes \(axes) invalid for \(x)") }
            }
            var dims: [Int] = []
            var src = 0
            for k in 0..<rank {
                if inserted.contains(k) { dims.append(1) } else { dims.append(x[src]); src += 1 }
            }
            return Shape(dims)
        case .expand:
            let target = try Self.ints(constant, 1, node) ?? []
            return try StridedView.expand(ins[0], to: target).map { Shape($0.dims) }
                .get(orThrow: fail("cannot expand \(ins[0]) to \(target)"))
        case .gather(let axis):
            let x = ins[0]
            let a = try Self.axis(axis, rank: x.rank, node: node)
            return Shape(Array(x.dims[..<a]) + ins[1].dims + Array(x.dims[(a + 1)...]))
        case .tile:
            let r = try Self.ints(constant, 1, node) ?? []
            guard r.count == ins[0].rank, r.allSatisfy({ $0 >= 0 }) else { throw fail("Tile repeats \(r) do not fit \(ins[0])") }
            return Shape(zip(ins[0].dims, r).map { $0 * $1 })
        case .pad:
            let x = ins[0]
            let pads = try PadSpec.resolve(node: node, rank: x.rank, constant: constant)
            let dims = (0..<x.rank).map { x[$0] + pads[$0] + pads[$0 + x.rank] }
            guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("pads \(pads) crop \(x) below zero") }
            return Shape(dims)
        case .shape(let start, let end):
            return [Self.shapeRange(rank: ins[0].rank, start: start, end: end).count]
        case .size:
            return []
        case .constantOfShape:
            let dims = try Self.ints(constant, 0, node) ?? []
            guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("ConstantOfShape of negative shape \(dims)") }
            return Shape(dims)
        case .range:
            guard let s = constant(0), let l = constant(1), let d = constant(2) else {
                throw .notConstant(node: node.name, input: node.inputs[0])
            }
            return try RangeSpec.count(start: s, limit: l, delta: d).map { Shape([$0]) }
                .get(orThrow: fail("Range with delta 0 or mixed types"))
        case .resize(let attrs):
            return try ResizeSpec.resolve(node: node, input: ins[0], attributes: attrs, constant: constant).output
        case .convTranspose(let attrs):
            let x = ins[0], w = ins[1]
            guard x.rank == 4, w.rank == 4 else { throw .unsupported(node: node.name, detail: "ConvTranspose on rank-\(x.rank) input \(x) (only 2-D, NCHW)") }
            guard attrs.group >= 1, x[1] == w[0], w[0] % attrs.group == 0 else {
                throw fail("ConvTranspose input \(x) with group \(attrs.group) does not match weight \(w)")
            }
            guard attrs.window.kernel == [w[2], w[3]] else { throw fail("kernel_shape \(attrs.window.kernel) differs from weight \(w)") }
            let cout = w[1] * attrs.group
            if ins.count > 2, ins[2].rank > 0, ins[2] != Shape([cout]) { throw fail("ConvTranspose bias \(ins[2]) must be [\(cout)]") }
            let o = attrs.geometry(input: [x[2], x[3]]).output
            guard o[0] > 0, o[1] > 0 else { throw fail("ConvTranspose output would be empty for input \(x)") }
            return [x[0], cout, o[0], o[1]]
        case .reduce(_, let keepDims, let noop):
            let x = ins[0]
            let axes = try ReduceSpec.axes(node: node, rank: x.rank, noopWithEmptyAxes: noop, constant: constant)
            if keepDims { return Shape((0..<x.rank).map { axes.contains($0) ? 1 : x[$0] }) }
            return Shape((0..<x.rank).filter { !axes.contains($0) }.map { x[$0] })
        case .globalMaxPool:
            let x = ins[0]
            guard x.rank >= 3 else { throw fail("GlobalMaxPool input \(x) needs spatial axes") }
            return Shape([x[0], x[1]] + Array(repeating: 1, count: x.rank - 2))
        case .layerNormalization(let axis, _):
            let x = ins[0]
            let a = try Self.axis(axis, rank: x.rank, node: node)
            let inner = Shape(Array(x.dims[a...]))
            for p in ins.dropFirst() where p.rank > 0 && Shape.broadcast(p, inner) != inner {
                throw fail("LayerNormalization parameter \(p) does not broadcast to \(inner)")
            }
            return x
        case .instanceNormalization:
            let x = ins[0]
            guard x.rank >= 3 else { throw fail("InstanceNormalization input \(x) needs spatial axes") }
            for p in ins.dropFirst() where p != Shape([x[1]]) { throw fail("InstanceNormalization parameter \(p) must be [\(x[1])]") }
            return x
        }
    }
}

extension Shape {
    /// Numpy-style broadcast of two shapes, or nil when they are incompatible.
    public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let rank = max(a.rank, b.rank)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
            let y = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
            guard x == y || x == 1 || y == 1 else { return nil }
            out[i] = x == 1 ? y : x
        }
        return Shape(out)
    }

    /// ONNX Reshape: 0 copies the input dimension (unless `allowZero`), -1 is inferred.
    public static func reshaped(_ input: Shape, to target: [Int], allowZero: Bool) -> Shape? {
        var dims = target
        var inferred: Int? = nil
        for (i, d) in target.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.rank else { return nil }
                dims[i] = input[i]
            } else if d == -1 {
                guard inferred == nil else { return nil }
                inferred = i
            } else if d < -1 { return nil }
        }
        if let i = inferred {
            let known = dims.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, input.elementCount % known == 0 else { return nil }
            dims[i] = input.elementCount / known
        }
        let out = Shape(dims)
        return out.elementCount == input.elementCount ? out : nil
    }
}

extension Optional {
    func get<E: Error>(orThrow error: @autoclosure () -> E) throws(E) -> Wrapped {
        guard let v = self else { throw error() }
        return v
    }
}
