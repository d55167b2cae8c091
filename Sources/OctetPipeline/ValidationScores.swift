import OctetZoo

/// The validation rows' shares of an accuracy metric, and the metric they vouch for at a
/// confidence: what `--max-drop` holds.
///
/// Every metric is `base − 100·Σnoise/Σsignal` over the rows: `sqnr` has each row's output energy
/// and error energy (base 100, and never below 0); `agreement` a signal of 1 and a noise of 1
/// where INT8's top-1 differs from FP32's (base 100); `top1` a signal of 1 and a noise of FP32's
/// hit minus INT8's, which may be −1 (base FP32's accuracy), so that the rows' pairing is kept.
///
/// A metric measured on a few dozen rows is an estimate: an SQNR dominated by a handful of images
/// can be several dB better on the rows than on the images they stand for. At confidence `c > 0`
/// the value is the metric at the `c` quantile of the noise ratio over a fixed set of bootstrap
/// resamplings of the rows (rows drawn with replacement, `resamplings` times, from a fixed seed):
/// a value the rows vouch for with about that confidence. Confidence 0 is the plain value. The
/// resamplings depend only on the number of rows, so every candidate model of a search is judged on
/// the same ones, on every machine.
struct ValidationScores: Equatable {
    var base: Double
    var signal: [Double]
    var noise: [Double]
    /// The metric cannot fall below 0 (`sqnr`).
    var floorAtZero: Bool

    static let resamplings = 1000
    static let seed: UInt64 = 0x0C7E_7B00_7573_7472

    init(base: Double, rows: Int, floorAtZero: Bool) {
        self.base = base
        signal = Array(repeating: 0, count: rows)
        noise = Array(repeating: 0, count: rows)
        self.floorAtZero = floorAtZero
    }

    /// The metric of the rows (confidence 0), or the one they vouch for at `confidence` in (0, 1).
    func value(confidence: Double) -> Double {
        metric(ratio: confidence > 0 ? resampledRatios()[Self.rank(confidence)] : ratio(signal.reduce(0, +), noise.reduce(0, +)))
    }

    /// Index of the `confidence` quantile among the sorted resampled ratios.
    static func rank(_ confidence: Double) -> Int { min(resamplings - 1, max(0, Int((confidence * Double(resamplings)).rounded(.down)))) }

    /// Σnoise/Σsignal of each resampling, ascending.
    func resampledRatios() -> [Double] {
        let n = signal.count
        guard n > 0 else { return Array(repeating: 0, count: Self.resamplings) }
        var rng = SeededRandom(seed: Self.seed)
        var ratios: [Double] = []
        ratios.reserveCapacity(Self.resamplings)
        for _ in 0..<Self.resamplings {
            var s = 0.0, e = 0.0
            for _ in 0..<n {
                let i = Int(rng.next() % UInt64(n))
                s += signal[i]
                e += noise[i]
            }
            ratios.append(ratio(s, e))
        }
        return ratios.sorted()
    }

    private func ratio(_ s: Double, _ e: Double) -> Double { s == 0 ? (e == 0 ? 0 : 1) : e / s }

    private func metric(ratio r: Double) -> Double { floorAtZero ? max(0, base - 100 * r) : base - 100 * r }
}
