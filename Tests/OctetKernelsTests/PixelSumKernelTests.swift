import OctetKernels
import OctetTestSupport
import XCTest

/// The per-channel pixel sums (an INT8 average pool's windows) on every path the CPU has equal
/// plain integer sums: channel counts 1…70 (no multiple of 16 or 32 needed), pixel counts across
/// the 256-pixel u16 blocks, every code 255 (the blocks' worst case), and sums added to what the
/// buffer already holds.
final class PixelSumKernelTests: XCTestCase {
    func testPixelSumsMatchPlainSumsOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<200 {
                let channels = trial < 70 ? trial + 1 : Int.random(in: 1...300, using: &rng)
                let pixels = [1, 255, 256, 257, 513, Int.random(in: 1...700, using: &rng)][trial % 6]
                let saturated = trial % 7 == 3
                let x = (0..<(pixels * channels)).map { _ in saturated ? 255 : UInt8.random(in: 0...255, using: &rng) }
                let start = (0..<channels).map { _ in Int32.random(in: -1000...1000, using: &rng) }
                var sums = start + [0x5EED]
                PixelSumKernel.add(x, pixels: pixels, channels: channels, into: &sums, isa: isa)
                var expected = start
                for p in 0..<pixels { for c in 0..<channels { expected[c] &+= Int32(x[p * channels + c]) } }
                XCTAssertEqual(Array(sums.prefix(channels)), expected, "\(isa) \(pixels) pixels x \(channels) channels saturated=\(saturated)")
                XCTAssertEqual(sums[channels], 0x5EED, "\(isa) wrote past the end")
            }
        }
    }

    /// The global average pool kernel (sums and requantization in one pass) on every path equals
    /// `Int8Arithmetic.requantize` of the plain sums: channel counts on and off 64 (up to 300),
    /// pixel counts across the u16 blocks, saturated inputs, zero points at the extremes, and
    /// multipliers large enough to overflow Int32 (vcvtps2dq's INT32_MIN, clamped to 0).
    func testMeanOfPixelsMatchesRequantizedSumsOnEveryPath() {
        var rng = TestSeed.generator()
        for isa in ISA.supported {
            for trial in 0..<200 {
                let channels = trial < 70 ? trial + 1 : Int.random(in: 1...300, using: &rng)
                let pixels = [1, 48, 255, 256, 257, 513, Int.random(in: 1...700, using: &rng)][trial % 7]
                let saturated = trial % 7 == 3
                let x = (0..<(pixels * channels)).map { _ in saturated ? 255 : UInt8.random(in: 0...255, using: &rng) }
                let zeroIn = Int32([0, 255, 128, Int.random(in: 0...255, using: &rng)][trial % 4])
                let zeroOut = Int32([0, 255, Int.random(in: 0...255, using: &rng)][trial % 3])
                let m: Float = trial % 23 == 5 ? 3e7 : Float.random(in: 0.2...1.5, using: &rng) / Float(pixels)
                var out = [UInt8](repeating: 0xA5, count: channels + 1)
                PixelSumKernel.mean(x, pixels: pixels, channels: channels, zeroIn: zeroIn, multiplier: m, zeroOut: zeroOut, into: &out, isa: isa)
                var expected = [UInt8]()
                for c in 0..<channels {
                    var sum: Int32 = 0
                    for p in 0..<pixels { sum &+= Int32(x[p * channels + c]) }
                    expected.append(Int8Arithmetic.requantize(sum &- Int32(pixels) &* zeroIn, m, zeroPoint: zeroOut, lo: 0, hi: 255))
                }
                XCTAssertEqual(Array(out.prefix(channels)), expected, "\(isa) \(pixels) pixels x \(channels) channels z=\(zeroIn)/\(zeroOut) m=\(m)")
                XCTAssertEqual(out[channels], 0xA5, "\(isa) wrote past the end")
            }
        }
    }
}
