import OctetTestSupport
import XCTest

/// The C table-lookup and quantized-multiply kernels against their Swift specifications on every
/// variant this CPU has: vector tails (channel counts 1…70, not multiples of 8, 16 or 64),
/// broadcast and same-shape operands, zero points 0 and 255, multipliers that saturate or
/// overflow Int32, narrowed clamps; nothing written past the end; the product rounded as ONNX
/// Runtime rounds it.
final class QuantizedMulAndLookupKernelTests: XCTestCase {
    func testLookupMatchesTheTableOnEveryVariant() {
        var rng = TestSeed.generator()
        let variants = QuantizedLookupKernel.Variant.allCases.filter(\.isSupported)
        for missing in QuantizedLookupKernel.Variant.allCases where !missing.isSupported {
            print("note: this CPU lacks \(missing); that lookup is not tested here")
        }
        for variant in variants {
            for trial in 0..<200 {
                let n = trial < 130 ? trial : Int.random(in: 0...1000, using: &rng)
                let table = (0..<256).map { _ in UInt8.random(in: 0...255, using: &rng) }
                var x = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if n >= 4 { x[0] = 0; x[1] = 127; x[2] = 128; x[3] = 255 }
                var out = [UInt8](repeating: 0xCD, count: n + 1)
                if n > 0 { QuantizedLookupKernel.run(x, table: table, output: &out, count: n, variant: variant) }
                XCTAssertEqual(Array(out.prefix(n)), x.map { table[Int($0)] }, "\(variant) n=\(n)")
                XCTAssertEqual(out[n], 0xCD, "\(variant) wrote past the end")
            }
        }
    }

    /// The output zero point is added in float before rounding, as ONNX Runtime's QLinearMul does.
    /// A real case (EfficientNet-B0's squeeze-excitation gate, `octet calibrate` of
    /// tv_efficientnet_b0_bncal): gate code 162 (scale 0.0035692402, zero point 0) times feature
    /// code 28 (0.040185153, 7) at output scale 0.031480685, zero point 128 is 143.4999946 exactly;
    /// ONNX Runtime 1.32 writes 144 (143.4999946 is 143.5 in float), rounding first gives 143.
    func testTheProductRoundsAsONNXRuntimesQLinearMul() {
        let m = Int8Arithmetic.multiplier(0.0035692402, 0.040185153, over: 0.031480685)
        XCTAssertEqual(Int8Arithmetic.product((162 - 0) * (28 - 7), m, zeroPoint: 128, lo: 0, hi: 255), 144)
        for isa in ISA.supported {
            for channels in [1, 17, 64, 100] {
                for broadcast in [false, true] {
                    let pixels = 3
                    let a = [UInt8](repeating: 162, count: pixels * channels), b = [UInt8](repeating: 28, count: broadcast ? channels : pixels * channels)
                    var out = [UInt8](repeating: 0, count: pixels * channels)
                    // The gate as the broadcast operand (second), as the compiler orders them.
                    QuantizedMulKernel.run(a, zeroA: 0, b, zeroB: 7, broadcastB: broadcast, multiplier: m, zeroOut: 128,
                                           lo: 0, hi: 255, output: &out, pixels: pixels, channels: channels, isa: isa)
                    XCTAssertEqual(Set(out), [144], "\(isa) \(channels) channels broadcast=\(broadcast)")
                }
            }
        }
        // int8 codes: the signed zero point is added in float, the shift after rounding. 900 · m is
        // 15.499996 in float: ONNX Runtime's int8 QLinearMul (zero point 0) writes 15, code 143
        // shifted; adding 0 + 128 in float first would make it 143.5 and then 144.
        let m8: Float = 0.017222218
        XCTAssertEqual(Int8Arithmetic.product(900, m8, zeroPoint: 0, offset: 128, lo: 0, hi: 255), 143)
        XCTAssertEqual(Int8Arithmetic.product(900, m8, zeroPoint: 128, lo: 0, hi: 255), 144)
        for isa in ISA.supported {
            var out = [UInt8](repeating: 0, count: 20)
            QuantizedMulKernel.run([UInt8](repeating: 30 + 128, count: 20), zeroA: 128, [UInt8](repeating: 30 + 128, count: 20), zeroB: 128, broadcastB: false,
                                   multiplier: m8, zeroOut: 0, codeOffset: 128, lo: 0, hi: 255, output: &out, pixels: 1, channels: 20, isa: isa)
            XCTAssertEqual(Set(out), [143], "\(isa): int8 codes")
        }
    }

    func testQuantizedMulMatchesInt8ArithmeticOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<300 {
                // A broadcast row longer than the AVX-512 kernel reads as one run (4096) in the last trials.
                let channels = trial < 70 ? trial + 1 : trial >= 296 ? 4090 + trial : Int.random(in: 1...200, using: &rng)
                let pixels = Int.random(in: 1...9, using: &rng)
                let broadcast = trial % 2 == 0
                let a = (0..<(pixels * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let b = (0..<(broadcast ? channels : pixels * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let za: Int32 = [0, 255, 128, Int32.random(in: 0...255, using: &rng)][trial % 4]
                let zb: Int32 = [255, 0, Int32.random(in: 0...255, using: &rng)][trial % 3]
                // Every third trial int8 codes: the file's zero point signed, the codes shifted by 128.
                let offset: Int32 = trial % 3 == 1 ? 128 : 0
                let zy = offset == 128 ? Int32.random(in: -128...127, using: &rng) : Int32.random(in: 0...255, using: &rng)
                let m: Float = trial % 50 == 7 ? 4e7 : Float.random(in: 1e-5...0.05, using: &rng)
                let (lo, hi): (Int32, Int32) = trial % 5 == 0 ? ((zy + offset) / 2, 200) : (0, 255)
                var out = [UInt8](repeating: 0xCD, count: pixels * channels + 1)
                QuantizedMulKernel.run(a, zeroA: za, b, zeroB: zb, broadcastB: broadcast, multiplier: m, zeroOut: zy, codeOffset: offset, lo: lo, hi: hi,
                                       output: &out, pixels: pixels, channels: channels, isa: isa)
                var expected = [UInt8]()
                for p in 0..<pixels {
                    for c in 0..<channels {
                        let product = (Int32(a[p * channels + c]) - za) * (Int32(b[broadcast ? c : p * channels + c]) - zb)
                        expected.append(Int8Arithmetic.product(product, m, zeroPoint: zy, offset: offset, lo: lo, hi: hi))
                    }
                }
                XCTAssertEqual(Array(out.prefix(pixels * channels)), expected,
                               "\(isa) \(pixels)x\(channels) broadcast=\(broadcast) m=\(m) zy=\(zy) offset=\(offset)")
                XCTAssertEqual(out[pixels * channels], 0xCD, "\(isa) wrote past the end")
            }
        }
    }
}
