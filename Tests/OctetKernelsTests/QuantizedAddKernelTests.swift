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

    /// The constant `z_y − fma(M_a, z_a, M_b·z_b)` as ONNX Runtime's x86 build computes it. A real
    /// case (the residual Add of features.2.1 in ONNX Runtime's uint8-activation QDQ file of
    /// tv_efficientnet_b0_bncal): a = 106 (scale 0.11257652, zero point 132), b = 113 (0.09777875,
    /// 120), output scale 0.14162512, zero point 126. With the fused constant the sum is 100.50001
    /// and ONNX Runtime 1.32 writes 101; rounding M_a·z_a first moves the constant by an ulp to a
    /// sum of exactly 100.5, which rounds to 100.
    func testTheConstantRoundsAsONNXRuntimesQLinearAdd() {
        let ma = Int8Arithmetic.multiplier(0.11257652, 1, over: 0.14162512), mb = Int8Arithmetic.multiplier(0.09777875, 1, over: 0.14162512)
        let c = Int8Arithmetic.addConstant(ma: ma, za: 132, mb: mb, zb: 120, zy: 126)
        XCTAssertEqual(Int8Arithmetic.add(106, ma, 113, mb, constant: c), 101)
        for isa in ISA.supported {
            for n in [1, 31, 64, 100] {
                var out = [UInt8](repeating: 0, count: n)
                QuantizedAddKernel.run([UInt8](repeating: 106, count: n), ma, [UInt8](repeating: 113, count: n), mb, constant: c,
                                       lo: 0, hi: 255, output: &out, count: n, isa: isa)
                XCTAssertEqual(Set(out), [101], "\(isa) n=\(n)")
            }
        }
    }
}
