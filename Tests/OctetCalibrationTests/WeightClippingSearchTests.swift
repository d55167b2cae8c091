import OctetCore
import OctetTestSupport
import XCTest

/// The weight clipping search computes its 50 candidates eight to a vector and rounds with the
/// 1.5·2²³ trick; the plain loop below (the search as first written, one candidate at a time with
/// `rounded(.toNearestOrEven)`) is its specification, and the scales must be bit-identical.
final class WeightClippingSearchTests: XCTestCase {
    static func referenceScales(_ w: [Float], channels: Int, qmax: Int) -> [Float] {
        let inner = w.count / channels
        return (0..<channels).map { c in
            let slice = w[(c * inner)..<((c + 1) * inner)]
            let maxAbs = slice.reduce(Float(0)) { max($0, abs($1)) }
            guard maxAbs > 0 else { return 1 }
            var best = maxAbs / Float(qmax), bestErr = Double.infinity
            for k in 0..<50 {
                let s = maxAbs * (1 - Float(k) / 100) / Float(qmax)
                var err = 0.0
                for v in slice {
                    let q = min(max((v / s).rounded(.toNearestOrEven), -Float(qmax)), Float(qmax))
                    let e = Double(v - q * s)
                    err += e * e
                }
                if err < bestErr { bestErr = err; best = s }
            }
            return best
        }
    }

    func testTheVectorSearchChoosesTheScalarLoopsScalesBitForBit() {
        var rng = TestSeed.generator()
        for trial in 0..<60 {
            let channels = Int.random(in: 1...9, using: &rng), inner = Int.random(in: 1...300, using: &rng)
            let qmax = [127, 63, 7][trial % 3]
            // Gaussian-ish weights with a few outliers, exact ties at half steps, all-zero channels,
            // denormal and huge magnitudes.
            let magnitude: Float = [1e-3, 1, 1e-39, 1e30][trial % 4]
            var w = (0..<(channels * inner)).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0...1, using: &rng) * magnitude }
            for i in stride(from: 0, to: w.count, by: 17) { w[i] *= 8 }
            if trial % 5 == 0 { for i in 0..<inner { w[i] = 0 } }
            if trial % 7 == 0 { for i in w.indices { w[i] = (w[i] * 4).rounded() / 4 } }
            let got = WeightQuantizer.quantize(w, shape: [channels, inner], axis: 0, perChannel: true, qmax: qmax, clipping: true).scales
            let want = Self.referenceScales(w, channels: channels, qmax: qmax)
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "trial \(trial): \(channels)×\(inner), qmax \(qmax), magnitude \(magnitude)")
        }
    }
}
