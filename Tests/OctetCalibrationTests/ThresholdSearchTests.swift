import Foundation
import OctetTestSupport
import XCTest

final class ThresholdSearchTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { var name: String; var levels: Int; var bins: [[Int64]]; var kl_bins: Int }
        var cases: [Case]
    }

    /// KL matches the independent numpy implementation of the same definition exactly.
    func testKLMatchesNumpyReference() throws {
        let ref = try TestPaths.fixture("threshold_reference.json", as: Reference.self)
        for c in ref.cases {
            var bins = [Int64](repeating: 0, count: AbsHistogram.binCount)
            for pair in c.bins { bins[Int(pair[0])] = pair[1] }
            XCTAssertEqual(ThresholdSearch.klBins(bins, levels: c.levels), c.kl_bins, c.name)
        }
    }

    func histogram(_ values: [Float]) -> AbsHistogram {
        var h = AbsHistogram()
        h.add(values)
        return h
    }

    func testKnownOptima() {
        var r = TestRandom(seed: 3)
        // Uniform magnitudes: nothing to gain by clipping; every method keeps (nearly) the max.
        let uniform = histogram((0..<100_000).map { _ in r.rng.uniform(0, 3) })
        for m in [CalibrationMethod.kl, .mse, .max] {
            let t = ThresholdSearch.threshold(uniform, method: m, nonNegative: true)
            XCTAssertEqual(t, 3, accuracy: 0.05, "\(m)")
        }
        // A Gaussian bulk with a few far outliers: KL clips them; max keeps them; MSE keeps them too
        // (5 outliers clipped from 40 to ~4 cost 5·36² in squared error, more than coarser rounding of the bulk).
        let gaussian = (0..<100_000).map { _ in Float((-2 * log(Double(r.rng.uniform(1e-7, 1)))).squareRoot() * cos(2 * Double.pi * Double(r.rng.uniform(0, 1)))) }
        let withOutliers = histogram(gaussian + Array(repeating: 40, count: 5))
        XCTAssertEqual(ThresholdSearch.threshold(withOutliers, method: .max, nonNegative: false), 40)
        XCTAssertLessThan(ThresholdSearch.threshold(withOutliers, method: .kl, nonNegative: false), 10)
        XCTAssertGreaterThan(ThresholdSearch.threshold(withOutliers, method: .mse, nonNegative: false), 30)
        // Percentile: 50% of |x| for x uniform on [0, 2] is 1.
        let half = histogram((0..<100_000).map { _ in r.rng.uniform(0, 2) })
        XCTAssertEqual(ThresholdSearch.threshold(half, method: .percentile(50), nonNegative: true), 1, accuracy: 0.02)
    }

    func testEmptyAndConstantHistograms() {
        let zeros = histogram(Array(repeating: 0, count: 100))
        XCTAssertEqual(ThresholdSearch.threshold(zeros, method: .kl, nonNegative: true), 0)
        let constant = histogram(Array(repeating: 0.5, count: 100))
        XCTAssertEqual(ThresholdSearch.threshold(constant, method: .kl, nonNegative: true), 0.5)
        let p = QuantParams.activation(threshold: 0, lowerBound: 0)
        XCTAssertTrue(p.scale > 0 && p.scale.isFinite)
    }

    /// The search for every tensor of ResNet-18 (≈ 50 histograms) runs well under a second.
    func testSearchIsFastEnoughForAWholeNetwork() {
        var r = TestRandom(seed: 9)
        let hs = (0..<50).map { _ in histogram((0..<20_000).map { _ in r.rng.uniform(0, 1) * r.rng.uniform(0, 1) * 8 }) }
        // Timing is reported, not asserted (tests never assert timings).
        for method in [CalibrationMethod.kl, .mse] {
            let start = Date()
            for h in hs { _ = ThresholdSearch.threshold(h, method: method, nonNegative: true) }
            print("threshold search (\(method)) for 50 tensors: \(Date().timeIntervalSince(start)) s")
        }
    }

    func testMethodParsing() {
        XCTAssertEqual(CalibrationMethod.parse("kl"), .kl)
        XCTAssertEqual(CalibrationMethod.parse("percentile:99.9"), .percentile(99.9))
        XCTAssertNil(CalibrationMethod.parse("percentile:101"))
        XCTAssertNil(CalibrationMethod.parse("magic"))
    }

    func testRequantizationForms() {
        XCTAssertEqual(Int8Arithmetic.requantize(100, 0.5, zeroPoint: 3, lo: 0, hi: 255), 53)
        XCTAssertEqual(Int8Arithmetic.requantize(5, 0.5, zeroPoint: 0, lo: 0, hi: 255), 2)   // 2.5 → 2 (half to even)
        XCTAssertEqual(Int8Arithmetic.requantize(-100, 1, zeroPoint: 0, lo: 0, hi: 255), 0)
        let (q, shift) = Int8Arithmetic.fixedPoint(0.0123)
        XCTAssertEqual(Double(q) * pow(2, -31 - Double(shift)), 0.0123, accuracy: 1e-9)
    }
}
