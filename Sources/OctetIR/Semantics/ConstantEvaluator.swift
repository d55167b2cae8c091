import OctetCore

/// Evaluates one node on constant inputs with the operators' reference semantics, for
/// constant folding and shape specialization. Returns nil for ops it does not fold
/// (convolutions, dense layers, QDQ pairs) or a combination of types they do not take.
public enum ConstantEvaluator {
    /// `inputs[i]` is input i's value (nil when absent or unknown); `inputShapes` and
    /// `outputShapes` come from shape inference.
    public static func evaluate(_ node: Node, inputs: [Tensor?], inputShapes: [Shape], outputShapes: [Shape]) -> [Tensor]? {
        switch node.op {
        case .shape(let start, let end):
            let dims = inputShapes[0].dims[Graph.shapeRange(rank: inputShapes[0].rank, start: start, end: end)]
            return t([dims.count], .int64(dims.map(Int64.init))).map { [$0] }
        case .size:
            return t([], .int64([Int64(inputShapes[0].elementCount)])).map { [$0] }
        case .constantOfShape(let value):
            guard let out = outputShapes.first else { return nil }
            return fill(value, out).map { [$0] }
        default: break
        }
        guard let x = inputs.first ?? nil else { return nil }
        let present = node.inputs.enumerated().filter { !$0.element.isEmpty }.map(\.offset)
        guard present.allSatisfy({ $0 < inputs.count && inputs[$0] != nil }) else { return nil }
        let out = outputShapes.first ?? x.shape
        switch node.op {
        case .identity, .dropout: return [x]
        case .reshape, .flatten, .squeeze, .unsqueeze:
            return reshaped(x, out).map { [$0] }
        case .relu: return unary(x, out, float: { Swift.max($0, 0) }, int: { Swift.max($0, 0) })
        case .clip(let lo, let hi):
            return unary(x, out, float: { Swift.min(Swift.max($0, lo), hi) },
                         int: { Swift.min(Swift.max($0, Int64(lo.isFinite ? lo.rounded(.up) : -9e18)), Int64(hi.isFinite ? hi.rounded(.down) : 9e18)) })
        case .unary(let f): return unary(x, out, float: f.apply, int: f.apply)
        case .add: return binary(inputs[0]!, inputs[1]!, out, float: +, int: { $0 &+ $1 })
        case .mul: return binary(inputs[0]!, inputs[1]!, out, float: *, int: { $0 &* $1 })
        case .binary(let f): return binary(inputs[0]!, inputs[1]!, out, float: f.apply, int: f.apply)
        case .cast(let to, let toBool):
            var values = x.data.doubles
            if toBool { values = values.map { $0 != 0 ? 1 : 0 } }
            return make(out, values, to).map { [$0] }
        case .concat(let axis):
            let ts = inputs.compactMap { $0 }
            guard ts.allSatisfy({ $0.dtype == x.dtype }), let a = try? Graph.axis(axis, rank: x.shape.rank, node: node) else { return nil }
            return map(ts, out) { (arrays: [[Float]]) in concat(arrays, ts.map(\.shape), axis: a) }
                   int: { arrays in concat(arrays, ts.map(\.shape), axis: a) }
        case .transpose(let perm):
            guard let view = StridedView.transpose(x.shape, perm: perm) else { return nil }
            return view1(x, out, view)
        case .slice:
            guard let view = StridedView.slice(x.shape, starts: inputs[1]!.data.ints, ends: inputs[2]!.data.ints,
                                               axes: inputs.count > 3 ? inputs[3]?.data.ints : nil,
                                               steps: inputs.count > 4 ? inputs[4]?.data.ints : nil) else { return nil }
            return view1(x, out, view)
        case .expand:
            guard let view = StridedView.broadcast(x.shape, to: out) else { return nil }
            return view1(x, out, view)
        case .gather(let axis):
            guard let a = try? Graph.axis(axis, rank: x.shape.rank, node: node),
                  let idx = DataMovement.normalizedIndices(inputs[1]!.data.ints, axisSize: x.shape[a]) else { return nil }
            return map([x], out) { (v: [[Float]]) in gather(v[0], x.shape, a, idx, out) } int: { v in gather(v[0], x.shape, a, idx, out) }
        case .tile:
            let r = inputs[1]!.data.ints
            return map([x], out) { (v: [[Float]]) in tile(v[0], x.shape, r, out) } int: { v in tile(v[0], x.shape, r, out) }
        case .range:
            guard let s = inputs[0]?.data.doubles.first, let d = inputs[2]?.data.doubles.first else { return nil }
            return make(out, (0..<out.elementCount).map { s + Double($0) * d }, x.dtype).map { [$0] }
        case .where:
            let c = inputs[0]!, a = inputs[1]!, b = inputs[2]!
            guard a.dtype == b.dtype, let vc = StridedView.broadcast(c.shape, to: out), let va = StridedView.broadcast(a.shape, to: out),
                  let vb = StridedView.broadcast(b.shape, to: out) else { return nil }
            let cond = vc.apply(c.data.doubles), av = va.apply(a.data.doubles), bv = vb.apply(b.data.doubles)
            return make(out, (0..<out.elementCount).map { cond[$0] != 0 ? av[$0] : bv[$0] }, a.dtype).map { [$0] }
        case .split(let axis, _):
            guard let a = try? Graph.axis(axis, rank: x.shape.rank, node: node) else { return nil }
            var result: [Tensor] = []
            var start = 0
            for s in outputShapes {
                guard let view = StridedView.slice(x.shape, starts: [start], ends: [start + s[a]], axes: [a], steps: nil),
                      let t = view1(x, s, view)?.first else { return nil }
                result.append(t)
                start += s[a]
            }
            return result
        case .conv, .batchNormalization, .maxPool, .averagePool, .globalAveragePool, .gemm, .matMul, .softmax,
             .quantizeLinear, .dequantizeLinear,  // QDQ pairs are the INT8 model's structure: never folded
             .pad, .resize, .convTranspose, .reduce, .globalMaxPool, .logSoftmax, .layerNormalization,
             .instanceNormalization, .shape, .size, .constantOfShape:
            return nil
        }
    }

    // MARK: helpers

    /// A tensor whose count matches by construction; nil (no folding) if a rule disagreed.
    static func t(_ shape: Shape, _ data: TensorData) -> Tensor? { try? Tensor(shape: shape, data: data) }

    static func fill(_ value: Tensor, _ shape: Shape) -> Tensor? {
        let n = shape.elementCount
        switch value.data {
        case .float32(let v): return t(shape, .float32(Array(repeating: v.first ?? 0, count: n)))
        case .int64(let v): return t(shape, .int64(Array(repeating: v.first ?? 0, count: n)))
        case .int32(let v): return t(shape, .int32(Array(repeating: v.first ?? 0, count: n)))
        case .uint8(let v): return t(shape, .uint8(Array(repeating: v.first ?? 0, count: n)))
        case .int8(let v): return t(shape, .int8(Array(repeating: v.first ?? 0, count: n)))
        }
    }

    static func reshaped(_ x: Tensor, _ shape: Shape) -> Tensor? {
        t(shape, x.data)
    }

    /// Builds a tensor of `dtype` from doubles (ints truncated toward zero, as ONNX Cast does).
    static func make(_ shape: Shape, _ values: [Double], _ dtype: DType) -> Tensor? {
        guard values.count == shape.elementCount else { return nil }
        let data: TensorData
        switch dtype {
        case .float32: data = .float32(values.map { Float($0) })
        case .int64: data = .int64(values.map { $0.isFinite ? Int64(clamping: Int(Swift.max(Swift.min($0, 9.2e18), -9.2e18))) : 0 })
        case .int32: data = .int32(values.map { $0.isFinite ? Int32(clamping: Int(Swift.max(Swift.min($0, 3e9), -3e9))) : 0 })
        case .uint8: data = .uint8(values.map { $0.isFinite ? UInt8(clamping: Int(Swift.max(Swift.min($0, 1e3), -1e3))) : 0 })
        case .int8: data = .int8(values.map { $0.isFinite ? Int8(clamping: Int(Swift.max(Swift.min($0, 1e3), -1e3))) : 0 })
        }
        return t(shape, data)
    }

    /// Integer values of a non-float tensor as Int64.
    static func int64s(_ t: Tensor) -> [Int64]? {
        switch t.data {
        case .int64(let v): v
        case .int32(let v): v.map(Int64.init)
        case .uint8(let v): v.map(Int64.init)
        case .int8(let v): v.map(Int64.init)
        case .float32: nil
        }
    }

    static func fromInt64(_ values: [Int64], like dtype: DType, _ shape: Shape) -> Tensor? {
        switch dtype {
        case .int64: t(shape, .int64(values))
        case .int32: t(shape, .int32(values.map { Int32(clamping: $0) }))
        case .uint8: t(shape, .uint8(values.map { UInt8(clamping: $0) }))
        case .int8: t(shape, .int8(values.map { Int8(clamping: $0) }))
        case .float32: nil
        }
    }

    static func unary(_ x: Tensor, _ out: Shape, float: (Float) -> Float, int: (Int64) -> Int64?) -> [Tensor]? {
        if let f = x.floats { return t(out, .float32(f.map(float))).map { [$0] } }
        guard let v = int64s(x) else { return nil }
        var r: [Int64] = []
        r.reserveCapacity(v.count)
        for e in v { guard let y = int(e) else { return nil }; r.append(y) }
        return fromInt64(r, like: x.dtype, out).map { [$0] }
    }

    static func binary(_ a: Tensor, _ b: Tensor, _ out: Shape, float: (Float, Float) -> Float, int: (Int64, Int64) -> Int64?) -> [Tensor]? {
        guard let va = StridedView.broadcast(a.shape, to: out), let vb = StridedView.broadcast(b.shape, to: out) else { return nil }
        if let fa = a.floats, let fb = b.floats {
            let x = va.apply(fa), y = vb.apply(fb)
            return t(out, .float32((0..<out.elementCount).map { float(x[$0], y[$0]) })).map { [$0] }
        }
        guard a.dtype == b.dtype, let ia = int64s(a), let ib = int64s(b) else { return nil }
        let x = va.apply(ia), y = vb.apply(ib)
        var r: [Int64] = []
        for i in 0..<out.elementCount { guard let v = int(x[i], y[i]) else { return nil }; r.append(v) }
        return fromInt64(r, like: a.dtype, out).map { [$0] }
    }

    static func view1(_ x: Tensor, _ out: Shape, _ view: StridedView) -> [Tensor]? {
        if let f = x.floats { return t(out, .float32(view.apply(f))).map { [$0] } }
        guard let v = int64s(x) else { return nil }
        return fromInt64(view.apply(v), like: x.dtype, out).map { [$0] }
    }

    static func map(_ ts: [Tensor], _ out: Shape, float: ([[Float]]) -> [Float], int: ([[Int64]]) -> [Int64]) -> [Tensor]? {
        let fs = ts.compactMap(\.floats)
        if fs.count == ts.count { return t(out, .float32(float(fs))).map { [$0] } }
        let is_ = ts.compactMap(int64s)
        guard is_.count == ts.count, let first = ts.first else { return nil }
        return fromInt64(int(is_), like: first.dtype, out).map { [$0] }
    }

    static func concat<T>(_ arrays: [[T]], _ shapes: [Shape], axis: Int) -> [T] {
        var out: [T] = []
        let outer = shapes[0].dims[..<axis].reduce(1, *)
        for o in 0..<outer {
            for (a, s) in zip(arrays, shapes) {
                let chunk = s.dims[axis...].reduce(1, *)
                out += a[(o * chunk)..<((o + 1) * chunk)]
            }
        }
        return out
    }

    static func gather<T>(_ v: [T], _ shape: Shape, _ axis: Int, _ idx: [Int], _ out: Shape) -> [T] {
        guard let first = v.first, out.elementCount > 0 else { return [] }
        var r = [T](repeating: first, count: out.elementCount)
        v.withUnsafeBufferPointer { s in r.withUnsafeMutableBufferPointer { d in
            DataMovement.gather(s.baseAddress!, shape: shape, axis: axis, indices: idx, into: d.baseAddress!)
        } }
        return r
    }

    static func tile<T>(_ v: [T], _ shape: Shape, _ repeats: [Int], _ out: Shape) -> [T] {
        guard let first = v.first, out.elementCount > 0 else { return [] }
        var r = [T](repeating: first, count: out.elementCount)
        v.withUnsafeBufferPointer { s in r.withUnsafeMutableBufferPointer { d in
            DataMovement.tile(s.baseAddress!, shape: shape, repeats: repeats, into: d.baseAddress!)
        } }
        return r
    }
}
