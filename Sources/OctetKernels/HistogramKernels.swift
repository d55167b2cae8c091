import CKernels

/// Statistics of a float buffer for calibration histograms.
public struct AbsStats: Sendable, Hashable {
    public var maxAbs: Float
    public var nonFinite: Int64
    public var zeros: Int64
    public var negatives: Int64
}

/// The C kernels behind `AbsHistogram`: |x| statistics and exact power-of-two binning.
public enum HistogramKernels {
    public static func stats(_ x: UnsafeBufferPointer<Float>, isa: ISA) -> AbsStats {
        var s = ck_abs_stats()
        guard let base = x.baseAddress, !x.isEmpty else { return AbsStats(maxAbs: 0, nonFinite: 0, zeros: 0, negatives: 0) }
        isa.kernels.pointee.abs_stats_f32(base, x.count, &s)
        return AbsStats(maxAbs: s.max_abs, nonFinite: s.non_finite, zeros: s.zeros, negatives: s.negatives)
    }

    /// bins[floor(|x| · 2^(bits − exponent))] += 1 for finite non-zero x; every |x| must be below 2^exponent.
    public static func accumulate(_ x: UnsafeBufferPointer<Float>, exponent: Int, bits: Int,
                                  into bins: UnsafeMutableBufferPointer<Int64>, isa: ISA) {
        guard let base = x.baseAddress, !x.isEmpty else { return }
        precondition(bins.count >= 1 << bits, "internal: histogram bins")
        isa.kernels.pointee.abs_histogram_f32(base, x.count, Int32(exponent), Int32(bits), bins.baseAddress)
    }
}
