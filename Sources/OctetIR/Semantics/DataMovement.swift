import OctetCore

/// Reference definitions of the ONNX data-movement operators on row-major buffers, generic
/// over the element type: the constant folder runs them on shape tensors, the FP32 runtime on
/// activations.
public enum DataMovement {
    /// Gather along `axis`: out[o, j, i] = data[o, index[j], i] with negative indices counted from
    /// the end. `indices` must already be validated against the axis (see `normalizedIndices`).
    public static func gather<T>(_ data: UnsafePointer<T>, shape: Shape, axis: Int, indices: [Int],
                                 into out: UnsafeMutablePointer<T>) {
        let outer = shape.dims[..<axis].reduce(1, *), n = shape[axis], inner = shape.dims[(axis + 1)...].reduce(1, *)
        var o = out
        for b in 0..<outer {
            for j in indices {
                (o).update(from: data + (b * n + j) * inner, count: inner)
                o += inner
            }
        }
    }

    /// Gather indices made non-negative, or nil when one is outside `-n..<n`.
    public static func normalizedIndices(_ raw: [Int], axisSize n: Int) -> [Int]? {
        var out = raw
        for (k, i) in raw.enumerated() {
            let j = i < 0 ? i + n : i
            guard (0..<n).contains(j) else { return nil }
            out[k] = j
        }
        return out
    }

    /// Tile: out[i] = data[i mod shape] per axis.
    public static func tile<T>(_ data: UnsafePointer<T>, shape: Shape, repeats: [Int], into out: UnsafeMutablePointer<T>) {
        let outDims = zip(shape.dims, repeats).map { $0 * $1 }
        let total = outDims.reduce(1, *)
        guard total > 0 else { return }
        let rank = shape.rank
        if rank == 0 { out[0] = data[0]; return }
        let st = shape.strides
        var index = [Int](repeating: 0, count: rank)
        for i in 0..<total {
            var s = 0
            for k in 0..<rank { s += (index[k] % shape[k]) * st[k] }
            out[i] = data[s]
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < outDims[d] { break }; index[d] = 0; d -= 1 }
        }
    }

    /// Pad with `pads` = [begin_0.., end_0..] over every axis (negative pads crop). Constant mode
    /// fills `value`; reflect mirrors without repeating the edge; edge repeats it.
    public static func pad<T>(_ data: UnsafePointer<T>, shape: Shape, pads: [Int], mode: PadMode, value: T,
                              into out: UnsafeMutablePointer<T>) {
        let rank = shape.rank
        let outDims = (0..<rank).map { shape[$0] + pads[$0] + pads[$0 + rank] }
        let total = outDims.reduce(1, *)
        guard total > 0 else { return }
        if rank == 0 { out[0] = data[0]; return }
        let st = shape.strides
        var index = [Int](repeating: 0, count: rank)
        for i in 0..<total {
            var s = 0
            var inside = true
            for k in 0..<rank {
                var c = index[k] - pads[k]
                let n = shape[k]
                if c < 0 || c >= n {
                    switch mode {
                    case .constant: inside = false
                    case .edge: c = c < 0 ? 0 : n - 1
                    case .reflect:
                        if n == 1 { c = 0 } else {
                            let period = 2 * (n - 1)
                            c = ((c % period) + period) % period
                            if c >= n { c = period - c }
                        }
                    }
                }
                if !inside { break }
                s += c * st[k]
            }
            out[i] = inside ? data[s] : value
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < outDims[d] { break }; index[d] = 0; d -= 1 }
        }
    }

    /// Concatenation along `axis` of row-major parts.
    public static func concat<T>(_ parts: [(UnsafePointer<T>, Shape)], axis: Int, into out: UnsafeMutablePointer<T>) {
        guard let first = parts.first?.1 else { return }
        let outer = first.dims[..<axis].reduce(1, *)
        let total = parts.reduce(0) { $0 + $1.1.dims[axis...].reduce(1, *) }
        var offset = 0
        for (p, s) in parts {
            let chunk = s.dims[axis...].reduce(1, *)
            for o in 0..<outer { (out + o * total + offset).update(from: p + o * chunk, count: chunk) }
            offset += chunk
        }
    }

    /// Split along `axis` into parts of `sizes`.
    public static func split<T>(_ data: UnsafePointer<T>, shape: Shape, axis: Int, sizes: [Int], into outs: [UnsafeMutablePointer<T>]) {
        let outer = shape.dims[..<axis].reduce(1, *), inner = shape.dims[(axis + 1)...].reduce(1, *)
        let total = shape[axis] * inner
        var offset = 0
        for (size, out) in zip(sizes, outs) {
            let chunk = size * inner
            for o in 0..<outer { (out + o * chunk).update(from: data + o * total + offset, count: chunk) }
            offset += chunk
        }
    }

    /// Split sizes for `outputs` parts of an axis of `n` (ONNX Split-18: the last part may be smaller).
    public static func equalSplit(_ n: Int, outputs: Int) -> [Int]? {
        guard outputs > 0 else { return nil }
        let part = (n + outputs - 1) / outputs
        var sizes = [Int](repeating: part, count: outputs)
        sizes[outputs - 1] = n - part * (outputs - 1)
        return sizes[outputs - 1] >= 0 ? sizes : nil
    }
}
