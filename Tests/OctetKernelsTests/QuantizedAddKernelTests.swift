import OctetTestSupport
import XCTest

/// The C quantized-Add kernels against the Swift specification (`Int8Arithmetic.add`), on every
/// ISA path this machine has: random lengths (vector tails), scales, zero points, fused clamps,
/// and saturating / overflowing multipliers.
final class QuantizedAddKernelTests: XCTestCase {
    func testEveryPathMatchesTheSpecification() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<300 {
                let n = trial < 40 ? trial : Int.random(in: 0...700, using: &rng)
                let a = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                var ma = Float.random(in: 0.01...4, using: &rng), mb = Float.random(in: 0.01...4, using: &rng)
                if trial % 50 == 7 { ma = 3e9 }          // overflows Int32: converts to Int32.min, clamps to lo
                if trial % 50 == 8 { mb = 1e-30 }
                let za = Int32.random(in: 0...255, using: &rng), zb = Int32.random(in: 0...255, using: &rng)
                let zy = Int32.random(in: 0...255, using: &rng)
                let lo: Int32 = trial % 3 == 0 ? zy : 0, hi: Int32 = trial % 5 == 0 ? min(255, zy + 40) : 255
                let c = Int8Arithmetic.addConstant(ma: ma, za: za, mb: mb, zb: zb, zy: zy)
                let expected = (0..<n).map { UInt8(min(max(Int8Arithmetic.add(a[$0], ma, b[$0], mb, constant: c), lo), hi)) }
                var out = [UInt8](repeating: 0xAB, count: n + 1)
                if n > 0 {
                    QuantizedAddKernel.run(a, ma, b, mb, constant: c, lo: lo, hi: hi, output: &out, count: n, isa: isa)
                }
                XCTAssertEqual(Array(out.prefix(n)), expected, "\(isa) n=\(n) ma=\(ma) mb=\(mb)")
                XCTAssertEqual(out[n], 0xAB, "\(isa) wrote past the end (n=\(n))")
            }
        }
    }
}
