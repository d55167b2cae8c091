import OctetTestSupport
import XCTest

/// The u8 max-pool kernels of every ISA path against a direct reading of the definition: odd
/// sizes, channel counts around the 32/64-byte vectors, strides, dilations, padding, windows
/// entirely in the padding (0), and all-255 inputs.
final class QuantizedMaxPoolKernelTests: XCTestCase {
    func testEveryPathMatchesTheDefinition() {
        var rng = TestSeed.generator()
        for trial in 0..<400 {
            let inH = Int.random(in: 1...9, using: &rng), inW = Int.random(in: 1...9, using: &rng)
            let c = trial % 4 == 0 ? 64 * Int.random(in: 1...3, using: &rng) : Int.random(in: 1...150, using: &rng)
            let k = (Int.random(in: 1...4, using: &rng), Int.random(in: 1...4, using: &rng))
            let s = (Int.random(in: 1...3, using: &rng), Int.random(in: 1...3, using: &rng))
            let d = (trial % 5 == 0 ? 2 : 1, trial % 7 == 0 ? 2 : 1)
            let pad = (Int.random(in: 0...2, using: &rng), Int.random(in: 0...2, using: &rng))
            let outH = Int.random(in: 1...6, using: &rng), outW = Int.random(in: 1...6, using: &rng)
            let input = (0..<(inH * inW * c)).map { _ in trial % 9 == 0 ? UInt8(255) : UInt8.random(in: 0...255, using: &rng) }
            var expected = [UInt8](repeating: 0, count: outH * outW * c)
            for oy in 0..<outH { for ox in 0..<outW { for ky in 0..<k.0 { for kx in 0..<k.1 {
                let iy = oy * s.0 - pad.0 + ky * d.0, ix = ox * s.1 - pad.1 + kx * d.1
                guard iy >= 0, iy < inH, ix >= 0, ix < inW else { continue }
                for ch in 0..<c { expected[(oy * outW + ox) * c + ch] = max(expected[(oy * outW + ox) * c + ch], input[(iy * inW + ix) * c + ch]) }
            } } } }
            for isa in ISA.supported {
                let w = Pool2DKernel(kind: .max, isa: isa, inHeight: inH, inWidth: inW, channels: c, outHeight: outH, outWidth: outW,
                                     kernel: (k.0, k.1), stride: (s.0, s.1), dilation: (d.0, d.1), padTop: pad.0, padLeft: pad.1)
                var out = [UInt8](repeating: 0xAB, count: expected.count + 1)
                input.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { QuantizedMaxPoolKernel.run(w, input: x.baseAddress!, output: $0.baseAddress!) } }
                XCTAssertEqual(Array(out.prefix(expected.count)), expected, "\(isa) \(inH)x\(inW)x\(c) k=\(k) s=\(s) d=\(d) pad=\(pad) out \(outH)x\(outW)")
                XCTAssertEqual(out[expected.count], 0xAB, "\(isa) wrote past the end")
            }
        }
    }
}
