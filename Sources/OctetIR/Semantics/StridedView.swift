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
        StridedView(dims: input.dims, strides: input.strides).transposed(perm)
    }

    /// This view with its axes permuted: axis k of the result is axis perm[k] (nil reverses).
    public func transposed(_ perm: [Int]?) -> StridedView? {
        let rank = dims.count
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank, Set(p) == Set(0..<rank) else { return nil }
        return StridedView(dims: p.map { dims[$0] }, strides: p.map { strides[$0] }, offset: offset)
    }

    /// This view read as `shape` in row-major order without moving data, when its elements allow
    /// it (numpy's no-copy reshape: each group of axes merged or split must be evenly strided),
    /// else nil. Axes of size 1 take any stride.
    public func reshaped(_ shape: [Int]) -> StridedView? {
        guard shape.reduce(1, *) == count else { return nil }
        if isContiguous { return StridedView(dims: shape, strides: Shape(shape).strides, offset: offset) }
        guard let groups = reshapedAxes(shape) else { return nil }
        var strides = [Int](repeating: 0, count: shape.count)
        for (k, group) in groups.enumerated() {
            // One evenly strided run: each axis steps over the whole of the next.
            for i in group.indices.dropLast() where group[i].stride != group[i + 1].size * group[i + 1].stride { return nil }
            strides[k] = group.last?.stride ?? 0
        }
        return StridedView(dims: shape, strides: strides, offset: offset)
    }

    /// This view read as `shape` in row-major order, axis by axis: for each axis of `shape`, the
    /// axes of the source it walks (size and stride, outermost first; none for a size-1 axis).
    /// An axis of `shape` that merges source axes walks them in turn, one split from a source
    /// axis walks part of it. Nil when the shapes do not nest (no common refinement: [6, 4] as
    /// [4, 6]) or the counts differ. A copy can read any result, in any order of the axes of
    /// `shape`, even where no single strided view exists (`reshaped`).
    public func reshapedAxes(_ shape: [Int]) -> [[(size: Int, stride: Int)]]? {
        guard shape.reduce(1, *) == count, count > 0 else { return nil }
        var groups = [[(size: Int, stride: Int)]](repeating: [], count: shape.count)
        let source = dims.indices.filter { dims[$0] != 1 }
        let target = shape.indices.filter { shape[$0] != 1 }
        var i = source.count - 1, j = target.count - 1
        var leftIn = i >= 0 ? dims[source[i]] : 1, leftOut = j >= 0 ? shape[target[j]] : 1
        // From the innermost axes outwards: each step takes the smaller of what is left of the
        // current source and target axes, which the larger must be a multiple of.
        while i >= 0, j >= 0 {
            let a = source[i]
            let size = Swift.min(leftIn, leftOut)
            guard leftIn % size == 0, leftOut % size == 0 else { return nil }
            groups[target[j]].insert((size, strides[a] * (dims[a] / leftIn)), at: 0)
            leftIn /= size; leftOut /= size
            if leftIn == 1 { i -= 1; if i >= 0 { leftIn = dims[source[i]] } }
            if leftOut == 1 { j -= 1; if j >= 0 { leftOut = shape[target[j]] } }
        }
        return i < 0 && j < 0 ? groups : nil
    }

    /// Whether the view reads `count` consecutive elements from its offset in row-major order.
    public var isContiguous: Bool {
        var expected = 1
        for k in stride(from: dims.count - 1, through: 0, by: -1) where dims[k] != 1 {
            if strides[k] != expected { return false }
            expected *= dims[k]
        }
        return true
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
        StridedView(dims: input.dims, strides: input.strides).sliced(starts: starts, ends: ends, axes: axes, steps: steps)
    }

    /// ONNX Slice of this view (see `slice`).
    public func sliced(starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) -> StridedView? {
        let input = Shape(self.dims)
        let rank = input.rank
        let axes = axes ?? Array(0..<starts.count)
        let steps = steps ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else { return nil }
        var dims = input.dims
        let inStrides = self.strides
        var strides = inStrides
        var offset = self.offset
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

    /// The innermost two axes of a simplified view: `rows` runs of `inner` elements, a step of
    /// `rowStride` between runs and of `innerStride` within one (in source elements).
    public struct Block: Hashable, Sendable {
        public var rows: Int, rowStride: Int, inner: Int, innerStride: Int

        @inlinable
        public init(rows: Int, rowStride: Int, inner: Int, innerStride: Int) {
            self.rows = rows
            self.rowStride = rowStride
            self.inner = inner
            self.innerStride = innerStride
        }

        /// Copies one block from `source` to `destination` (`rows · inner` elements in order).
        @inlinable
        public func copy<T>(from source: UnsafePointer<T>, to destination: UnsafeMutablePointer<T>) {
            var out = destination, rowStart = source
            if innerStride == 1 {
                for _ in 0..<rows { out.update(from: rowStart, count: inner); out += inner; rowStart += rowStride }
            } else {
                for _ in 0..<rows {
                    var p = rowStart
                    for j in 0..<inner { out[j] = p.pointee; p += innerStride }
                    out += inner
                    rowStart += rowStride
                }
            }
        }
    }

    /// The view as blocks (`Block`) and the source offset of each, in order: axes of size 1
    /// dropped, evenly strided neighbours merged, the last two axes one block (a small
    /// transpose, say C×2, is one tight double loop) and an odometer over the others.
    @inlinable
    public func forEachBlock(_ body: (_ block: Block, _ sourceOffset: Int) -> Void) {
        guard count > 0 else { return }
        var d: [Int] = [], st: [Int] = []
        for k in dims.indices where dims[k] != 1 {
            if let last = d.last, st[st.count - 1] == strides[k] * dims[k] {
                d[d.count - 1] = last * dims[k]
                st[st.count - 1] = strides[k]
            } else {
                d.append(dims[k]); st.append(strides[k])
            }
        }
        while d.count < 2 { d.insert(1, at: 0); st.insert(0, at: 0) }
        let rank = d.count
        let block = Block(rows: d[rank - 2], rowStride: st[rank - 2], inner: d[rank - 1], innerStride: st[rank - 1])
        var index = [Int](repeating: 0, count: rank - 2)
        var src = offset
        while true {
            body(block, src)
            var k = rank - 3
            while k >= 0 {
                index[k] += 1
                src += st[k]
                if index[k] < d[k] { break }
                src -= st[k] * d[k]
                index[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }

    /// Copies the view of `source` into `destination` in row-major order of `dims`.
    /// Inlinable so that each element type gets its own specialized loop.
    @inlinable
    public func copy<T>(from source: UnsafePointer<T>, to destination: UnsafeMutablePointer<T>) {
        var out = destination
        forEachBlock { block, offset in
            block.copy(from: source + offset, to: out)
            out += block.rows * block.inner
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
