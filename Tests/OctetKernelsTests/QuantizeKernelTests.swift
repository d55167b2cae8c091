import OctetTestSupport
import XCTest

/// The C quantize / requantize kernels against their Swift specifications on every ISA path:
/// vector tails, ties (x/scale exactly k + 0.5), NaN, ±Inf, values far outside the u8 range,
/// extreme zero points and multipliers that overflow Int32.
final class QuantizeKernelTests: XCTestCase {
    func testQuantizeMatchesQuantParamsOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<200 {
                let n = trial < 40 ? trial : Int.random(in: 0...500, using: &rng)
                let scale = Float.random(in: 0.001...0.5, using: &rng)
                let params = QuantParams(scale: scale, zeroPoint: Int32.random(in: 0...255, using: &rng), dtype: .uint8)
                var x = (0..<n).map { _ in Float.random(in: -200...200, using: &rng) * scale }
                for i in stride(from: 0, to: n, by: 7) { x[i] = (Float(Int.random(in: -300...300, using: &rng)) + 0.5) * scale }  // ties
                if n > 3 { x[0] = .nan; x[1] = .infinity; x[2] = -.infinity; x[3] = 1e30 }
                var out = [UInt8](repeating: 0xCD, count: n + 1)
                if n > 0 { QuantizeKernel.quantize(x, scale: params.scale, zeroPoint: params.zeroPoint, output: &out, count: n, isa: isa) }
                XCTAssertEqual(Array(out.prefix(n)), x.map { params.quantize($0) }, "\(isa) n=\(n) scale=\(scale)")
                XCTAssertEqual(out[n], 0xCD, "\(isa) wrote past the end")
            }
        }
    }

    func testRequantizeMatchesInt8ArithmeticOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<200 {
                let n = trial < 40 ? trial : Int.random(in: 0...500, using: &rng)
                let x = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let zIn = Int32.random(in: 0...255, using: &rng), zOut = Int32.random(in: 0...255, using: &rng)
                let m: Float = trial % 40 == 5 ? 4e7 : Float.random(in: 0.05...3, using: &rng)
                var out = [UInt8](repeating: 0xCD, count: n + 1)
                if n > 0 { QuantizeKernel.requantize(x, zeroIn: zIn, multiplier: m, zeroOut: zOut, output: &out, count: n, isa: isa) }
                XCTAssertEqual(Array(out.prefix(n)), x.map { Int8Arithmetic.requantize(Int32($0) - zIn, m, zeroPoint: zOut, lo: 0, hi: 255) },
                               "\(isa) n=\(n) m=\(m)")
                XCTAssertEqual(out[n], 0xCD, "\(isa) wrote past the end")
            }
        }
    }

    /// The per-channel quantize (NNCF's depthwise inputs): each channel of an NHWC row with its own
    /// scale, channel counts around the vector width, the same ties and non-finite values.
    func testQuantizeChannelsMatchesQuantParamsPerChannelOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<200 {
                let channels = trial < 24 ? trial + 1 : Int.random(in: 1...70, using: &rng)
                let pixels = trial < 24 ? 3 : Int.random(in: 0...20, using: &rng)
                let zero = Int32.random(in: 0...255, using: &rng)
                let params = (0..<channels).map { _ in QuantParams(scale: Float.random(in: 0.001...0.5, using: &rng), zeroPoint: zero, dtype: .uint8) }
                let n = pixels * channels
                var x = (0..<n).map { i in Float.random(in: -200...200, using: &rng) * params[i % channels].scale }
                for i in stride(from: 0, to: n, by: 5) { x[i] = (Float(Int.random(in: -300...300, using: &rng)) + 0.5) * params[i % channels].scale }
                if n > 3 { x[0] = .nan; x[1] = .infinity; x[2] = -.infinity; x[3] = 1e30 }
                var out = [UInt8](repeating: 0xCD, count: n + 1)
                if n > 0 {
                    QuantizeKernel.quantizeChannels(x, scales: params.map(\.scale), zeroPoint: zero, output: &out, pixels: pixels, isa: isa)
                }
                XCTAssertEqual(Array(out.prefix(n)), x.indices.map { params[$0 % channels].quantize(x[$0]) }, "\(isa) \(pixels)x\(channels)")
                XCTAssertEqual(out[n], 0xCD, "\(isa) wrote past the end")
            }
        }
    }
}
