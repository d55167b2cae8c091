import OctetPipeline
import OctetTestSupport
import XCTest

/// The per-sample sums cluster workers send (`WeightEffectSample`, `ReportSampleSums`) travel
/// exactly (NaN, ±∞ and −0 included), and any truncation or corruption of the binary form is an
/// error, never a trap; their sums do not depend on how the samples were split or ordered.
final class PartialSumsCodingTests: XCTestCase {
    func randomSamples(_ rng: inout some RandomNumberGenerator) -> [WeightEffectSample] {
        let specials: [Double] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, 1e300]
        func value() -> UInt64 {
            Bool.random(using: &rng) ? specials.randomElement(using: &rng)!.bitPattern : Double.random(in: -1e3...1e3, using: &rng).bitPattern
        }
        return (0..<Int.random(in: 1...4, using: &rng)).map { i in
            var s = WeightEffectSample(sample: i, layers: [:])
            for l in 0..<Int.random(in: 0...5, using: &rng) {
                s.layers["layer/\(l)·é"] = .init(sums: Bool.random(using: &rng) ? [value(), value()] : [],
                                                 shift: (0..<Int.random(in: 0...20, using: &rng)).map { _ in value() },
                                                 pixels: Int.random(in: 0...10_000, using: &rng))
            }
            return s
        }
    }

    func testWeightEffectsRoundTripExactlyAndCorruptionIsAnError() throws {
        var rng = TestSeed.generator()
        for _ in 0..<50 {
            let samples = randomSamples(&rng)
            let bytes = WeightEffectSample.encode(samples)
            XCTAssertEqual(try WeightEffectSample.decode(bytes), samples)
            for cut in Set((0..<8).map { _ in Int.random(in: 0..<bytes.count, using: &rng) }) {
                XCTAssertThrowsError(try WeightEffectSample.decode(Array(bytes[0..<cut])), "cut at \(cut) of \(bytes.count)")
            }
            // Any single corrupted byte either decodes to something (a value changed) or throws.
            for _ in 0..<16 {
                var bad = bytes
                bad[Int.random(in: 0..<bad.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                _ = try? WeightEffectSample.decode(bad)
            }
        }
    }

    func testSumsDoNotDependOnTheSplitOrOrderOfSamples() throws {
        var rng = TestSeed.generator()
        let samples = (0..<6).map { i in
            WeightEffectSample(sample: i, layers: ["c": .init(sums: [Double.random(in: 0...9, using: &rng).bitPattern, Double.random(in: 0...1, using: &rng).bitPattern],
                                                              shift: (0..<3).map { _ in Double.random(in: -1...1, using: &rng).bitPattern }, pixels: 49)])
        }
        let reference = WeightEffects(samples)
        for _ in 0..<10 {
            let shuffled = WeightEffects(samples.shuffled(using: &rng))
            XCTAssertEqual(shuffled.sensitivity.mapValues(\.bitPattern), reference.sensitivity.mapValues(\.bitPattern))
            XCTAssertEqual(shuffled.biasCorrection.mapValues { $0.map(\.bitPattern) }, reference.biasCorrection.mapValues { $0.map(\.bitPattern) })
        }
        let report = (0..<5).map { i in
            ReportSampleSums(sample: i, tensors: ["t": [Double(i + 1).bitPattern, Double(0.25).bitPattern]],
                             outputs: (0..<3).map { _ in (0..<5).map { _ in Double.random(in: 0...1, using: &rng).bitPattern } })
        }
        let measured = ReportMeasurements(report)
        let again = ReportMeasurements(report.shuffled(using: &rng))
        XCTAssertEqual(measured.perTensorSQNR, again.perTensorSQNR)
        XCTAssertEqual(measured.diagnosis, again.diagnosis)
        XCTAssertEqual(try ReportSampleSums.decode(try ReportSampleSums.encode(report)), report)
    }
}
