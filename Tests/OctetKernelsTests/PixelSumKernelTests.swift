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
}
