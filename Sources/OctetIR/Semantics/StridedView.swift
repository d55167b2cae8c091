import OctetCore

/// A view of a row-major buffer as another shape: element `i0, i1, ...` of the view is the
/// source element at `offset + Σ ik * strides[k]`. Transpose, Slice and Expand are each one
/// such view, computed from shapes alone, so shape inference, constant folding and the
/// runtime share one definition of each.
public struct StridedView: Hashable, Sendable {
    public var dims: [Int]
    public var strides: [Int]
    public var offset: Int

    public init(dims: [Int], strides: [Int], offset: Int = 0) {
        self.dims = dims
        self.strides = strides
        self.offset = offset
    }

    public var count: Int { dims.reduce(1, *) }

    /// Transpose: output axis k is input axis perm[k] (ONNX Transpose; nil reverses).
    public static func transpose(_ input: Shape, perm: [Int]?) -> StridedView? {
        let rank = input.rank
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank, Set(p) == Set(0..<rank) else { return nil }
        let st = input.strides
        return StridedView(dims: p.map { input[$0] }, strides: p.map { st[$0] })
    }

    /// Expand: numpy broadcast of `input` to `target` (ONNX Expand: the result shape is the
    /// broadcast of both, so a target dim of 1 keeps the input's).
    public static func expand(_ input: Shape, to target: [Int]) -> StridedView? {
        guard let out = Shape.broadcast(input, Shape(target)) else { return nil }
        return broadcast(input, to: out)
    }

    /// The view of `input` broadcast to `out` (stride 0 on broadcast axes).
    public static func broadcast(_ input: Shape, to out: Shape) -> StridedView? {
        guard out.rank >= input.rank else { return nil }
        let pad = out.rank - input.rank
        let padded = Array(repeating: 1, count: pad) + input.dims
        let st = Shape(padded).strides
        var strides = [Int](repeating: 0, count: out.rank)
        for k in 0..<out.rank {
            guard padded[k] == out[k] || padded[k] == 1 else { return nil }
            strides[k] = padded[k] == 1 && out[k] != 1 ? 0 : st[k]
        }
        return StridedView(dims: out.dims, strides: strides)
    }

    /// ONNX Slice (opset 10+): per listed axis, clamp start/end to the axis (negative values
    /// count from the end; INT64 extremes mean "to the end"), step may be negative.
    public static func slice(_ input: Shape, starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) -> StridedView? {
        let rank = input.rank
        let axes = axes ?? Array(0..<starts.count)
        let steps = steps ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else { return nil }
        var dims = input.dims
        let inStrides = input.strides
        var strides = inStrides
        var offset = 0
        var seen = Set<Int>()
        for i in 0..<axes.count {
            let a = axes[i] < 0 ? axes[i] + rank : axes[i]
            guard (0..<rank).contains(a), seen.insert(a).inserted, steps[i] != 0 else { return nil }
            let n = input[a], step = steps[i]
            var s = starts[i] < 0 ? starts[i] &+ n : starts[i]
            var e = ends[i] < 0 ? ends[i] &+ n : ends[i]
            if step > 0 {
                s = Swift.min(Swift.max(s, 0), n)
                e = Swift.min(Swift.max(e, 0), n)
                dims[a] = e > s ? (e - s + step - 1) / step : 0
            } else {
                s = Swift.min(Swift.max(s, 0), n - 1)
                e = Swift.min(Swift.max(e, -1), n - 1)
                dims[a] = s > e ? (s - e + (-step) - 1) / (-step) : 0
            }
            offset += (dims[a] > 0 ? s : 0) * inStrides[a]
            strides[a] = inStrides[a] * step
        }
        return StridedView(dims: dims, strides: strides, offset: offset)
    }

    /// Copies the view of `source` into `destination` in row-major order of `dims`.
    public func copy<T>(from source: UnsafePointer<T>, to destination: UnsafeMutablePointer<T>) {
        let total = count
        guard total > 0 else { return }
        let rank = dims.count
        if rank == 0 { destination[0] = source[offset]; return }
        let inner = dims[rank - 1], innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var src = offset
        var out = 0
        while out < total {
            if innerStride == 1 {
                (destination + out).update(from: source + src, count: inner)
            } else {
                var s = src
                for j in 0..<inner { destination[out + j] = source[s]; s += innerStride }
            }
            out += inner
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                src += strides[d]
                if index[d] < dims[d] { break }
                src -= strides[d] * dims[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
    }

    /// The view applied to an array.
    public func apply<T>(_ source: [T]) -> [T] {
        guard count > 0, let first = source.first else { return [] }
        var out = [T](repeating: first, count: count)
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in copy(from: s.baseAddress!, to: d.baseAddress!) }
        }
        return out
    }
}

/// Maps a flat index of a broadcast result to the flat index of one operand (for code that
/// walks results one element at a time, such as the test references).
public struct BroadcastIndex: Sendable {
    let outStrides: [Int]
    let srcStrides: [Int]   // 0 on broadcast axes

    public init(from source: Shape, to result: Shape) {
        let pad = result.rank - source.rank
        let padded = Array(repeating: 1, count: pad) + source.dims
        let strides = Shape(padded).strides
        outStrides = result.strides
        srcStrides = (0..<result.rank).map { padded[$0] == 1 && result[$0] != 1 ? 0 : strides[$0] }
    }

    public func source(_ flat: Int) -> Int {
        var rest = flat, s = 0
        for i in outStrides.indices {
            let q = rest / outStrides[i]
            rest -= q * outStrides[i]
            s += q * srcStrides[i]
        }
        return s
    }
}
