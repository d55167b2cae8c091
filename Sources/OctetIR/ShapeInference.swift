import OctetCore

extension Graph {
    /// Shapes of every value (inputs, initializers, node outputs) for concrete input shapes.
    /// Throws naming the node whose inputs do not fit its operator.
    public func inferShapes(inputShapes: [String: Shape]) throws(GraphError) -> [String: Shape] {
        var shapes: [String: Shape] = [:]
        for (name, t) in initializers { shapes[name] = t.shape }
        for input in inputs where initializers[input.name] == nil {
            guard let s = inputShapes[input.name] else { throw .missingInput(input.name) }
            guard s.rank == input.dims.count,
                  zip(s.dims, input.dims).allSatisfy({ $1 == nil || $0 == $1 }) else {
                let expected = "[" + input.dims.map { $0.map(String.init) ?? "N" }.joined(separator: ",") + "]"
                throw .inputShape(input: input.name, expected: expected, got: s)
            }
            shapes[input.name] = s
        }
        for node in nodes {
            var ins: [Shape] = []
            for v in node.inputs {
                if v.isEmpty { ins.append(Shape([])); continue }
                guard let s = shapes[v] else { throw .undefinedValue(node: node.name, value: v) }
                ins.append(s)
            }
            let out = try outputShape(of: node, inputs: ins)
            if let first = node.outputs.first { shapes[first] = out }
            // Dropout's optional mask output has the data's shape.
            if node.outputs.count > 1, node.outputs[1] != "" { shapes[node.outputs[1]] = out }
        }
        return shapes
    }

    private func outputShape(of node: Node, inputs ins: [Shape]) throws(GraphError) -> Shape {
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
        case .relu, .clip, .identity, .dropout, .quantizeLinear, .dequantizeLinear:
            return ins[0]
        case .softmax(let axis, _):
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
        case .add, .mul:
            guard let s = Shape.broadcast(ins[0], ins[1]) else { throw fail("cannot broadcast \(ins[0]) with \(ins[1])") }
            return s
        case .flatten(let axis):
            let x = ins[0]
            let a = axis < 0 ? axis + x.rank : axis
            guard (0...x.rank).contains(a) else { throw fail("Flatten axis \(axis) out of range for \(x)") }
            return [x.dims[..<a].reduce(1, *), x.dims[a...].reduce(1, *)]
        case .reshape(let allowZero):
            guard let t = initializers[node.inputs[1]] else { throw .notConstant(node: node.name, input: node.inputs[1]) }
            return try Shape.reshaped(ins[0], to: t.data.doubles.map { Int($0) }, allowZero: allowZero)
                .get(orThrow: fail("cannot reshape \(ins[0]) to \(t.data.doubles.map { Int($0) })"))
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
            let (x, w) = (ins[0], ins[1])
            guard x.rank >= 2, w.rank == 2 else { throw .unsupported(node: node.name, detail: "MatMul of \(x) and \(w) (B must be rank 2)") }
            guard x[x.rank - 1] == w[0] else { throw fail("MatMul inner dimensions differ: \(x) and \(w)") }
            return Shape(x.dims.dropLast() + [w[1]])
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
