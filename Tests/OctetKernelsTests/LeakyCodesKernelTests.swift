import OctetCore
import OctetTestSupport
import XCTest

/// `LeakyCodesKernel` (PRelu / LeakyRelu computed on codes) on every variant this CPU has against
/// its Swift specification, the table entry `QuantParams.quantize(v < 0 ? v · slope : v)` with
/// v = (code − z_x) · s_x: channel counts 1…70 (not multiples of 8 or 16), every start phase,
/// vector tails, zero points 0 and 255, slopes 0, negative, subnormal and huge, output scales that
/// overflow the codes; nothing written past the end; the same for the product form against its own
/// specification. Non-finite slopes or scales are refused.
final class LeakyCodesKernelTests: XCTestCase {
    func testEveryVariantGivesTheTableEntryOfEveryCode() throws {
        var rng = TestSeed.generator()
        let variants = LeakyCodesKernel.Variant.allCases.filter(\.isSupported)
        for missing in LeakyCodesKernel.Variant.allCases where !missing.isSupported {
            print("note: this CPU lacks the \(missing) path; its leaky-codes kernel is not tested here")
        }
        let oddSlopes: [Float] = [0, -1, 1, 1e30, -1e30, -3e-39, .greatestFiniteMagnitude, 1e-30]
        for trial in 0..<300 {
            let channels = trial < 70 ? trial + 1 : Int.random(in: 1...70, using: &rng)
            let sx = Float.random(in: 0.001...0.2, using: &rng)
            let zx = Int32([0, 255, 128, Int.random(in: 0...255, using: &rng)][trial % 4])
            let zy = Int32([255, 0, 100, Int.random(in: 0...255, using: &rng)][(trial / 4) % 4])
            let slopes = (0..<(trial % 3 == 0 ? 1 : channels)).map { c in
                c % 5 == 4 ? oddSlopes[(c + trial) % oddSlopes.count] : Float.random(in: -2...2, using: &rng)
            }
            // Output scales: ordinary, tiny (codes saturate) and per channel.
            let scalesOut = (0..<(trial % 2 == 0 ? 1 : channels)).map { _ in
                trial % 7 == 3 ? Float(1e-6) : Float.random(in: 0.001...0.3, using: &rng)
            }
            let kernel = try XCTUnwrap(LeakyCodesKernel(channels: channels, scaleIn: sx, zeroIn: zx, slopes: slopes, scalesOut: scalesOut,
                                                        zeroOut: zy))
            let phase = Int.random(in: 0..<(channels * 16), using: &rng)
            let n = trial < 40 ? trial * 3 : Int.random(in: 0...700, using: &rng)
            var x = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n >= 4 { x[0] = 0; x[1] = UInt8(zx); x[2] = 255; x[3] = UInt8(max(zx - 1, 0)) }
            let expected = (0..<n).map { i -> UInt8 in
                let c = (phase + i) % channels
                let v = Float(Int32(x[i]) - zx) * sx
                let p = QuantParams(scale: scalesOut[scalesOut.count == 1 ? 0 : c], zeroPoint: zy, dtype: .uint8)
                return p.quantize(v < 0 ? v * slopes[slopes.count == 1 ? 0 : c] : v)
            }
            try assertVariants(kernel, x: x, phase: phase, expected: expected, variants: variants)
            // The product form, where its factors are finite: round(d · f) + z_y, clamped.
            guard let products = LeakyCodesKernel(channels: channels, scaleIn: sx, zeroIn: zx, slopes: slopes, scalesOut: scalesOut,
                                                  zeroOut: zy, form: .products) else { continue }
            let expectedProducts = (0..<n).map { i -> UInt8 in
                let c = (phase + i) % channels, d = Int32(x[i]) - zx
                let above = sx / scalesOut[scalesOut.count == 1 ? 0 : c], f = d < 0 ? slopes[slopes.count == 1 ? 0 : c] * above : above
                return UInt8(min(max((Float(d) * f).rounded(.toNearestOrEven) + Float(zy), 0), 255))
            }
            try assertVariants(products, x: x, phase: phase, expected: expectedProducts, variants: variants)
        }
    }

    /// Every variant of `kernel`, out of place and in place, gives `expected` and nothing past it.
    private func assertVariants(_ kernel: LeakyCodesKernel, x: [UInt8], phase: Int, expected: [UInt8], variants: [LeakyCodesKernel.Variant]) throws {
        let n = x.count, label = "\(kernel.form) channels=\(kernel.channels) n=\(n) phase=\(phase)"
        for variant in variants {
            var out = [UInt8](repeating: 0xCD, count: n + 1)
            kernel.run(x, output: &out, count: n, phase: phase, variant: variant)
            XCTAssertEqual(Array(out.prefix(n)), expected, "\(variant) \(label)")
            XCTAssertEqual(out[n], 0xCD, "\(variant) wrote past the end")
            // In place, as the convolution's epilogue runs it.
            var inPlace = x
            if n > 0 { kernel.run(inPlace, output: &inPlace, count: n, phase: phase, variant: variant) }
            XCTAssertEqual(inPlace, expected, "\(variant) in place \(label)")
        }
    }

    /// The product form is not the tables' arithmetic: for some scales a code lands on the other
    /// side of a tie (about one single-channel table in 5,000 random ones; this one was found by
    /// such a search), which is why `CodeTable` compares its bytes before using it.
    func testTheProductFormCanDifferFromTheTablesByOneCode() throws {
        let sx: Float = 0x1.26174cp-3, sy: Float = 0x1.e0cd82p-4
        let division = try XCTUnwrap(LeakyCodesKernel(channels: 1, scaleIn: sx, zeroIn: 93, slopes: [0x1.8bd4fp-3], scalesOut: [sy], zeroOut: 22))
        let products = try XCTUnwrap(LeakyCodesKernel(channels: 1, scaleIn: sx, zeroIn: 93, slopes: [0x1.8bd4fp-3], scalesOut: [sy], zeroOut: 22,
                                                      form: .products))
        let (a, b) = (division.tables(), products.tables())
        XCTAssertEqual((0..<256).filter { a[$0] != b[$0] }, [243])
        XCTAssertEqual([a[243], b[243]], [206, 205])
        XCTAssertEqual(a[243], QuantParams(scale: sy, zeroPoint: 22, dtype: .uint8).quantize(Float(243 - 93) * sx))
    }

    /// `tables()` lays the 256 codes of every channel out as a table per channel would; constants
    /// the kernels do not take are refused.
    func testTablesAreIndexedByChannelThenCode() throws {
        let kernel = try XCTUnwrap(LeakyCodesKernel(channels: 3, scaleIn: 0.1, zeroIn: 128, slopes: [0, 1, -1], scalesOut: [0.1],
                                                    zeroOut: 128))
        let t = kernel.tables()
        XCTAssertEqual(t.count, 768)
        XCTAssertEqual(Array(t[0..<256]), (0..<256).map { UInt8(max($0, 128)) })      // slope 0: negatives to zero
        XCTAssertEqual(Array(t[256..<512]), (0..<256).map { UInt8($0) })               // slope 1: identity
        let absolute = (0..<256).map { (k: Int) -> UInt8 in UInt8(k < 128 ? min(256 - k, 255) : k) }
        XCTAssertEqual(Array(t[512..<768]), absolute)                                   // slope -1: |x|
        XCTAssertNil(LeakyCodesKernel(channels: 3, scaleIn: 0.1, zeroIn: 0, slopes: [1, 2], scalesOut: [1], zeroOut: 0))
        for slope in [Float.nan, .infinity, -.infinity] {
            XCTAssertNil(LeakyCodesKernel(channels: 1, scaleIn: 0.1, zeroIn: 0, slopes: [slope], scalesOut: [1], zeroOut: 0), "\(slope)")
        }
        for scale in [Float.nan, .infinity, 0, -1] {
            XCTAssertNil(LeakyCodesKernel(channels: 1, scaleIn: 0.1, zeroIn: 0, slopes: [1], scalesOut: [scale], zeroOut: 0), "\(scale)")
        }
    }
}
