import OctetTestSupport
import XCTest

/// NCHW → NHWC on every ISA path against the definition: 3-channel images (the permute path)
/// with pixel counts around the 16-pixel vector, and other channel counts.
final class LayoutKernelTests: XCTestCase {
    func testEveryPathMatchesTheDefinition() {
        var rng = TestSeed.generator()
        for trial in 0..<200 {
            let channels = trial % 2 == 0 ? 3 : Int.random(in: 1...40, using: &rng)
            let pixels = trial < 40 ? trial : Int.random(in: 0...700, using: &rng)
            let src = (0..<(channels * pixels)).map { _ in Float.random(in: -10...10, using: &rng) }
            var expected = [Float](repeating: 0, count: src.count)
            for c in 0..<channels { for p in 0..<pixels { expected[p * channels + c] = src[c * pixels + p] } }
            for isa in ISA.supported {
                var out = [Float](repeating: .nan, count: src.count + 1)
                src.withUnsafeBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { LayoutKernel.nchwToNHWC(s.baseAddress!, channels: channels, pixels: pixels, into: $0.baseAddress!, isa: isa) }
                }
                XCTAssertEqual(Array(out.prefix(src.count)), expected, "\(isa) channels=\(channels) pixels=\(pixels)")
                XCTAssertTrue(out[src.count].isNaN, "\(isa) wrote past the end")
            }
        }
    }
}
