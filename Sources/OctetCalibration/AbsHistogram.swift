import Foundation
import OctetKernels

/// An exact, mergeable histogram of |x| for one tensor.
///
/// Bins are anchored to powers of two: 4096 bins cover [0, 2^exponent) and a non-zero finite
/// value goes to bin floor(|x| · 2^(12 − exponent)), computed exactly. `exponent` is the
/// smallest power of two above the largest |x| seen (at least −100), so it depends only on the
/// values, not on the order they arrived in. Growing the exponent by one sums adjacent bin
/// pairs, which is exactly what binning at the larger exponent would give; merging grows both
/// to the larger exponent and adds. Merge is therefore associative and commutative, and a
/// histogram is bit-identical however its data was split, ordered or retried.
/// Zeros and non-finite values are counted apart, never binned.
public struct AbsHistogram: Hashable, Sendable {
    public static let bits = 12
    public static let binCount = 1 << bits
    /// Smallest exponent kept: values below 2^-100 all land in bin 0.
    public static let minExponent = -100

    /// nil until a non-zero finite value has been seen.
    public internal(set) var exponent: Int?
    public internal(set) var bins: [Int64]
    public internal(set) var zeros: Int64 = 0
    public internal(set) var nonFinite: Int64 = 0
    public internal(set) var negatives: Int64 = 0
    /// The largest finite |x| seen, exactly.
    public internal(set) var maxAbs: Float = 0

    public init() { bins = Array(repeating: 0, count: Self.binCount) }

    /// Whether every finite value seen was ≥ 0.
    public var isNonNegative: Bool { negatives == 0 }
    /// Finite non-zero values binned.
    public var binned: Int64 { bins.reduce(0, +) }
    /// Every value seen, zeros and non-finite included.
    public var total: Int64 { binned + zeros + nonFinite }
    /// `total`, or nil when the counts add past Int64 (a corrupt histogram from outside).
    public var checkedTotal: Int64? {
        var t: Int64 = 0
        for c in bins + [zeros, nonFinite] {
            let (sum, overflow) = t.addingReportingOverflow(c)
            if overflow { return nil }
            t = sum
        }
        return t
    }
    /// Width of one bin: 2^(exponent − 12), or 0 when empty.
    public var binWidth: Double { exponent.map { Foundation.pow(2.0, Double($0 - Self.bits)) } ?? 0 }

    /// The exponent a histogram whose largest |x| is `m` uses.
    static func exponent(for m: Float) -> Int {
        max(Self.minExponent, Int(m.exponent) + 1)
    }

    /// Adds every element of `values`.
    public mutating func add(_ values: UnsafeBufferPointer<Float>, isa: ISA = .best) {
        guard !values.isEmpty else { return }
        let stats = HistogramKernels.stats(values, isa: isa)
        zeros += stats.zeros
        nonFinite += stats.nonFinite
        negatives += stats.negatives
        let binnedCount = Int64(values.count) - stats.zeros - stats.nonFinite
        guard binnedCount > 0 else { return }
        maxAbs = max(maxAbs, stats.maxAbs)
        let e = Self.exponent(for: maxAbs)
        grow(to: e)
        bins.withUnsafeMutableBufferPointer { HistogramKernels.accumulate(values, exponent: e, bits: Self.bits, into: $0, isa: isa) }
    }

    public mutating func add(_ values: [Float], isa: ISA = .best) {
        values.withUnsafeBufferPointer { add($0, isa: isa) }
    }

    /// Rebins to a larger exponent by summing adjacent pairs (exact).
    mutating func grow(to target: Int) {
        guard let e = exponent else { exponent = target; return }
        guard target > e else { return }
        let shift = min(target - e, Self.bits + 1)
        var out = [Int64](repeating: 0, count: Self.binCount)
        for i in 0..<Self.binCount where bins[i] != 0 { out[i >> shift] += bins[i] }
        bins = out
        exponent = target
    }

    /// Adds `other` into this histogram.
    public mutating func merge(_ other: AbsHistogram) {
        zeros += other.zeros
        nonFinite += other.nonFinite
        negatives += other.negatives
        guard let oe = other.exponent else { return }
        maxAbs = max(maxAbs, other.maxAbs)
        var o = other
        let target = max(exponent ?? oe, oe)
        grow(to: target)
        o.grow(to: target)
        for i in 0..<Self.binCount { bins[i] += o.bins[i] }
    }

    /// `a` merged with `b`.
    public static func merged(_ a: AbsHistogram, _ b: AbsHistogram) -> AbsHistogram {
        var m = a
        m.merge(b)
        return m
    }
}
