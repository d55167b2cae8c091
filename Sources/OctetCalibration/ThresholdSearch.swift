import Foundation

/// Clipping thresholds from histograms: pure functions, in Double, with a fixed tie-break
/// (the smallest candidate wins among equals), so the same histogram always gives the same
/// threshold.
public enum ThresholdSearch {
    /// Quantization levels of a tensor's magnitude: 256 for tensors proven non-negative
    /// (u8 with zero point 0), 128 for signed ones (symmetric).
    public static func levels(nonNegative: Bool) -> Int { nonNegative ? 256 : 128 }

    /// The threshold for `method`; 0 for a histogram with no non-zero finite value.
    public static func threshold(_ h: AbsHistogram, method: CalibrationMethod, nonNegative: Bool) -> Double {
        guard h.exponent != nil, h.binned > 0 else { return 0 }
        let t: Double
        switch method {
        case .max: t = Double(h.maxAbs)
        case .percentile(let p): t = percentile(h, p)
        case .kl: t = Double(klBins(h.bins, levels: levels(nonNegative: nonNegative))) * h.binWidth
        case .mse: t = mse(h, levels: levels(nonNegative: nonNegative))
        }
        return min(t, Double(h.maxAbs))
    }

    /// Smallest bin upper edge below which at least `p` % of all values (zeros included) lie.
    static func percentile(_ h: AbsHistogram, _ p: Double) -> Double {
        let target = Double(h.total - h.nonFinite) * p / 100
        var cumulative = Double(h.zeros)
        if cumulative >= target { return 0 }
        for (i, c) in h.bins.enumerated() {
            cumulative += Double(c)
            if cumulative >= target { return Double(i + 1) * h.binWidth }
        }
        return Double(h.maxAbs)
    }

    /// TensorRT's entropy calibration (as published in "8-bit Inference with TensorRT",
    /// Migacz 2017, and implemented by MXNet's `_get_optimal_threshold`), over bins of |x|:
    ///
    /// for each candidate i in levels...N (N = last non-empty bin + 1):
    ///   P = h[0..<i] with the outliers Σ h[i...] added to P[i−1], normalized by its sum;
    ///   Q = h[0..<i] merged into `levels` groups of ⌊i/levels⌋ bins (the last group takes the
    ///       remainder), each group's mass spread evenly over the bins where P is non-zero,
    ///       normalized by its own sum;
    ///   D(i) = Σ_{P_k > 0} P_k log(P_k / Q_k), +∞ when some P_k > 0 has Q_k = 0 (no smoothing).
    /// Returns the i with the smallest D (the smallest i on ties); the threshold is i bin widths.
    /// Zeros are kept out of P and Q: they are exact at any threshold, and the spike at zero of
    /// ReLU outputs would otherwise dominate the first level. Each D(i) costs O(levels) with
    /// prefix sums.
    public static func klBins(_ h: [Int64], levels: Int) -> Int {
        guard let last = h.lastIndex(where: { $0 > 0 }) else { return 0 }
        let n = last + 1
        if n <= levels { return n }
        var best = n, bestD = Double.infinity
        for (i, d) in klCurve(h, levels: levels) where d < bestD { bestD = d; best = i }
        return best
    }

    /// D(i) for every candidate i (see `klBins`); +∞ marks infeasible candidates.
    public static func klCurve(_ h: [Int64], levels: Int) -> [(bins: Int, divergence: Double)] {
        guard let last = h.lastIndex(where: { $0 > 0 }), last + 1 > levels else { return [] }
        let n = last + 1
        // Prefix sums: mass, count of non-empty bins, Σ h log h.
        var mass = [Double](repeating: 0, count: n + 1), nonEmpty = mass, hLogH = mass
        for k in 0..<n {
            let v = Double(h[k])
            mass[k + 1] = mass[k] + v
            nonEmpty[k + 1] = nonEmpty[k] + (v > 0 ? 1 : 0)
            hLogH[k + 1] = hLogH[k] + (v > 0 ? v * log(v) : 0)
        }
        let total = mass[n], logTotal = log(total)
        var curve: [(bins: Int, divergence: Double)] = []
        curve.reserveCapacity(n - levels + 1)
        for i in levels...n {
            let outliers = total - mass[i]
            let qTotal = mass[i]
            let width = i / levels
            var d = 0.0
            var feasible = true
            for j in 0..<levels {
                let a = j * width, b = j == levels - 1 ? i : a + width
                let levelMass = mass[b] - mass[a]
                // Bins of this level where P is non-zero: non-empty bins, plus bin i−1 when only outliers fill it.
                var count = nonEmpty[b] - nonEmpty[a]
                let lastIsHere = b == i
                let lastEmptyButOutliers = lastIsHere && h[i - 1] == 0 && outliers > 0
                if lastEmptyButOutliers { count += 1 }
                if count == 0 { continue }
                if levelMass == 0 { feasible = false; break }
                let logQ = log(levelMass / count / qTotal)
                // Σ P_k log P_k − Σ P_k log Q over the level's non-zero P_k, with P_k = h_k / total.
                var sumH = levelMass, sumHLogH = hLogH[b] - hLogH[a]
                if lastIsHere && outliers > 0 {
                    let hl = Double(h[i - 1])
                    sumHLogH -= hl > 0 ? hl * log(hl) : 0
                    let pl = hl + outliers
                    sumHLogH += pl * log(pl)
                    sumH += outliers
                }
                d += (sumHLogH - sumH * logTotal) / total - sumH / total * logQ
            }
            curve.append((i, feasible ? d : .infinity))
        }
        return curve
    }

    /// The threshold minimizing the expected squared error of quantizing the histogram with
    /// `levels` magnitude levels: values are represented by their bin centres; candidates are
    /// bin upper edges, every 8th bin and the last.
    static func mse(_ h: AbsHistogram, levels: Int) -> Double {
        guard let last = h.bins.lastIndex(where: { $0 > 0 }) else { return 0 }
        let w = h.binWidth
        var best = Double(last + 1) * w, bestErr = Double.infinity
        var candidates = Array(stride(from: 8, through: last + 1, by: 8))
        if candidates.last != last + 1 { candidates.append(last + 1) }
        for i in candidates {
            let t = Double(i) * w
            let step = t / Double(levels - 1 == 0 ? 1 : (levels == 256 ? 255 : 127))
            var err = 0.0
            for k in 0...last where h.bins[k] > 0 {
                let c = (Double(k) + 0.5) * w
                let e = c >= t ? c - t : c - (c / step).rounded() * step
                err += Double(h.bins[k]) * e * e
            }
            if err < bestErr { bestErr = err; best = t }
        }
        return best
    }

    /// Expected signal-to-quantization-noise ratio (dB) of the histogram's values quantized
    /// with threshold `t` and `levels` levels (bin centres stand for their values).
    public static func estimatedSQNR(_ h: AbsHistogram, threshold t: Double, nonNegative: Bool) -> Double {
        guard t > 0, let last = h.bins.lastIndex(where: { $0 > 0 }) else { return .infinity }
        let w = h.binWidth
        let step = t / (nonNegative ? 255 : 127)
        var signal = 0.0, noise = 0.0
        for k in 0...last where h.bins[k] > 0 {
            let c = (Double(k) + 0.5) * w
            let q = c >= t ? t : (c / step).rounded() * step
            signal += Double(h.bins[k]) * c * c
            noise += Double(h.bins[k]) * (c - q) * (c - q)
        }
        return noise == 0 ? .infinity : 10 * log10(signal / noise)
    }
}
