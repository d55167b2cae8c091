

/// Symmetric weight and bias quantization.
public enum WeightQuantizer {
    /// s8 weights with one scale per slice along `axis` (or one for all):
    /// q = clamp(round_half_even(w / scale), −qmax, qmax). With `clipping` false, scale = max|w| / qmax;
    /// with it, each slice's clipping range is the one among max|w|·(1 − k/100), k = 0…49, that
    /// minimizes Σ (w − scale·q)² (heavy-tailed BN-folded channels lose less to a few large weights).
    /// An all-zero slice gets scale 1.
    public static func quantize(_ w: [Float], shape: Shape, axis: Int, perChannel: Bool, qmax: Int,
                                clipping: Bool = false) -> (q: [Int8], scales: [Float]) {
        let channels = perChannel ? shape[axis] : 1
        let inner = perChannel ? shape.dims[(axis + 1)...].reduce(1, *) : w.count
        func channel(_ i: Int) -> Int { perChannel ? (i / inner) % channels : 0 }
        var maxAbs = [Float](repeating: 0, count: channels)
        for (i, v) in w.enumerated() { maxAbs[channel(i)] = max(maxAbs[channel(i)], abs(v)) }
        var scales = maxAbs.map { $0 > 0 ? $0 / Float(qmax) : 1 }
        if clipping {
            var slices = [[Float]](repeating: [], count: channels)
            for (i, v) in w.enumerated() { slices[channel(i)].append(v) }
            for c in 0..<channels where maxAbs[c] > 0 {
                let errors = clippingErrors(slices[c], maxAbs: maxAbs[c], qmax: Float(qmax))
                var bestErr = Double.infinity
                for k in 0..<clippingCandidates where errors[k] < bestErr {
                    bestErr = errors[k]
                    scales[c] = clippingScale(maxAbs[c], k, qmax: Float(qmax))
                }
            }
        }
        return (codes(w, shape: shape, axis: axis, scales: scales, qmax: qmax), scales)
    }

    /// Clipping ranges tried per slice: max|w|·(1 − k/100), k = 0..<50.
    static let clippingCandidates = 50

    /// The scale of clipping candidate `k`.
    @inline(__always)
    static func clippingScale(_ maxAbs: Float, _ k: Int, qmax: Float) -> Float {
        maxAbs * (1 - Float(k) / 100) / qmax
    }

    /// Σ (w − s·q)² over `slice` for every candidate scale s, each sum in Double in the weights'
    /// order. Eight candidates share a vector; every lane is the same chain of operations as the
    /// one-candidate-at-a-time loop (no fused multiply-add, no reassociation), so the sums are
    /// bit-identical to it, only computed side by side.
    static func clippingErrors(_ slice: [Float], maxAbs: Float, qmax: Float) -> [Double] {
        let groups = (clippingCandidates + 7) / 8
        var scales = [SIMD8<Float>](repeating: .one, count: groups)
        for k in 0..<(groups * 8) { scales[k / 8][k % 8] = clippingScale(maxAbs, min(k, clippingCandidates - 1), qmax: qmax) }
        var sums = [SIMD8<Double>](repeating: .zero, count: groups)
        let low = SIMD8<Float>(repeating: -qmax), high = SIMD8<Float>(repeating: qmax)
        let magic = SIMD8<Float>(repeating: 12_582_912)  // 1.5 · 2²³
        scales.withUnsafeBufferPointer { sp in
            sums.withUnsafeMutableBufferPointer { ep in
                for v in slice {
                    let x = SIMD8<Float>(repeating: v)
                    for g in 0..<groups {
                        let s = sp[g]
                        // Round half to even by adding and subtracting 1.5·2²³: exact for |y| < 2²²; a larger
                        // |y| (or ±∞, NaN) stays beyond ±qmax (or NaN), as rint's would, so the clamp gives the same code.
                        let r = (x / s + magic) - magic
                        let q = r.replacing(with: high, where: r .> high).replacing(with: low, where: r .< low)
                        let e = SIMD8<Double>(x - q * s)
                        ep[g] += e * e
                    }
                }
            }
        }
        return (0..<clippingCandidates).map { sums[$0 / 8][$0 % 8] }
    }

    /// The codes of `w` for given scales (one per slice along `axis`, or one for all):
    /// clamp(round_half_even(w / scale), −qmax, qmax), the rounding of `quantize`.
    public static func codes(_ w: [Float], shape: Shape, axis: Int, scales: [Float], qmax: Int) -> [Int8] {
        let perChannel = scales.count > 1
        let inner = perChannel ? shape.dims[(axis + 1)...].reduce(1, *) : max(w.count, 1)
        return w.enumerated().map { i, v -> Int8 in
            let s = scales[perChannel ? (i / inner) % scales.count : 0]
            let r = (v / s).rounded(.toNearestOrEven)
            return Int8(min(max(r, -Float(qmax)), Float(qmax)))
        }
    }

    /// s32 bias for accumulators of scale inputScale · weightScale[o]: q = round(b / scale).
    public static func quantizeBias(_ b: [Float], inputScale: Float, weightScales: [Float]) -> (q: [Int32], scales: [Float]) {
        let scales = b.indices.map { inputScale * weightScales[weightScales.count == 1 ? 0 : $0] }
        let q = zip(b, scales).map { v, s -> Int32 in
            let r = (Double(v) / Double(s)).rounded(.toNearestOrEven)
            guard r.isFinite else { return r.isNaN ? 0 : (r > 0 ? Int32.max : Int32.min) }
            return Int32(min(max(r, Double(Int32.min)), Double(Int32.max)))
        }
        return (q, scales)
    }
}
