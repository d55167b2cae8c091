import OctetTestSupport
import XCTest

/// The INT8 depthwise kernels of every ISA path against the scalar twin, through the Swift
/// wrapper: channel counts around every vector width (including C mod 64 in 49…63, the tail a
/// first AVX-512 version skipped), kernels, strides, dilations, padding, zero points and clamps,
/// u8 and float outputs, rows wide enough for the VNNI kernel's 5×5 row sweep, output rows in
/// pairs sharing one transposition, pixel ranges split anywhere.
final class Int8DepthwiseKernelTests: XCTestCase {
    func testEveryPathMatchesTheScalarTwin() {
        var rng = TestSeed.generator()
        let channelCounts = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 49, 56, 63, 64, 65, 113, 120, 127, 184]
        for trial in 0..<120 {
            let c = channelCounts[trial % channelCounts.count]
            let k = [1, 3, 5, 7][trial % 4], s = 1 + (trial / 4) % 2, d = trial % 7 == 0 ? 2 : 1
            // Half the trials, every kernel and stride, with rows wide enough for the 5×5 row sweep
            // (12+ output pixels) and the AVX2 kernel's interior blocks of 8 pixels.
            let inH = Int.random(in: 1...9, using: &rng), inW = Int.random(in: 1...((trial / 8) % 2 == 0 ? 30 : 9), using: &rng)
            let span = (k - 1) * d + 1
            let pad = min(Int.random(in: 0...2, using: &rng), span - 1)  // padding narrower than the kernel
            let outH = max(1, (inH + 2 * pad - span) / s + 1), outW = max(1, (inW + 2 * pad - span) / s + 1)
            let g = ConvGeometry(inHeight: inH, inWidth: inW, inPixelStride: c, outHeight: outH, outWidth: outW, outPixelStride: c,
                                 kernel: (k, k), stride: (s, s), dilation: (d, d), padTop: pad, padLeft: pad,
                                 groups: c, inChannelsPerGroup: 1, outChannelsPerGroup: 1)
            let weights = (0..<(c * k * k)).map { _ in Int8.random(in: -128...127, using: &rng) }
            let bias = (0..<c).map { _ in Int32.random(in: -20_000...20_000, using: &rng) }
            let zero = Int32.random(in: 0...255, using: &rng)
            let input = (0..<(inH * inW * c)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let scales = (0..<c).map { _ in Float.random(in: 0.0005...0.05, using: &rng) }
            let outputs: [Int8ConvKernel.Output] = [
                .quantized(multipliers: scales, zeroPoint: Int32.random(in: 0...255, using: &rng), lo: trial % 2 == 0 ? 0 : 30, hi: 255),
                .float(scales: scales, min: trial % 2 == 0 ? -.infinity : 0, max: trial % 3 == 0 ? 6 : .infinity),
            ]
            for (o, output) in outputs.enumerated() {
                let bytes = outH * outW * c * (o == 0 ? 1 : 4)
                // Two calls splitting the pixels anywhere (as latency mode does): rows in pairs
                // where a call has two whole rows, single (partial) rows elsewhere.
                let split = trial % 3 == 0 ? Int.random(in: 0...(outH * outW), using: &rng) : outH * outW
                func run(_ isa: ISA) -> [UInt8] {
                    Self.run(Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: bias, output: output, isa: isa),
                             input, bytes: bytes, split: split)
                }
                let reference = run(.scalar)
                for isa in ISA.supported where isa != .scalar {
                    XCTAssertEqual(run(isa), reference, "\(isa) C=\(c) k=\(k) s=\(s) d=\(d) pad=\(pad) \(inH)x\(inW) output \(o)")
                }
            }
        }
    }

    /// Maps only a few rows high under tall kernels (PP-OCR's 5×5 over 2×24 and 3×24, a 7×7 over
    /// 1–5 rows), where the VNNI kernel leaves out the row quads that read only padding and
    /// starts its sums with those taps' z_x terms: every path against the scalar twin, strides 1
    /// and 2, dilation 2, rows wide enough for the 5×5 sweep and narrower ones, channel counts
    /// on and off 64, u8 outputs in pairs of rows and single rows.
    func testShortMapsUnderTallKernelsMatchTheScalarTwin() {
        var rng = TestSeed.generator()
        for trial in 0..<96 {
            let c = [64, 120, 184, 200][trial % 4]
            let k = trial % 3 == 2 ? 7 : 5, s = 1 + (trial / 3) % 2, d = trial % 11 == 5 ? 2 : 1
            let inH = 1 + (trial / 6) % 5, inW = trial % 2 == 0 ? 24 : Int.random(in: 1...11, using: &rng)
            let span = (k - 1) * d + 1, pad = min(span - 1, k / 2 + (trial % 5 == 0 ? 1 : 0))
            guard inH + 2 * pad >= span, inW + 2 * pad >= span else { continue }
            let outH = (inH + 2 * pad - span) / s + 1, outW = (inW + 2 * pad - span) / s + 1
            let g = ConvGeometry(inHeight: inH, inWidth: inW, inPixelStride: c, outHeight: outH, outWidth: outW, outPixelStride: c,
                                 kernel: (k, k), stride: (s, s), dilation: (d, d), padTop: pad, padLeft: pad,
                                 groups: c, inChannelsPerGroup: 1, outChannelsPerGroup: 1)
            let weights = (0..<(c * k * k)).map { _ in Int8.random(in: -128...127, using: &rng) }
            let bias = (0..<c).map { _ in Int32.random(in: -20_000...20_000, using: &rng) }
            // Zero points far from 0: a left-out tap's z_x · w term is then large.
            let zero = Int32([255, 200, 131, 0][trial % 4])
            let input = (0..<(inH * inW * c)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let scales = (0..<c).map { _ in Float.random(in: 0.0005...0.02, using: &rng) }
            let output = Int8ConvKernel.Output.quantized(multipliers: scales, zeroPoint: Int32.random(in: 0...255, using: &rng), lo: 0, hi: 255)
            let split = trial % 4 == 1 ? Int.random(in: 0...(outH * outW), using: &rng) : outH * outW
            func run(_ isa: ISA) -> [UInt8] {
                Self.run(Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: bias, output: output, isa: isa),
                         input, bytes: outH * outW * c, split: split)
            }
            let reference = run(.scalar)
            for isa in ISA.supported where isa != .scalar {
                XCTAssertEqual(run(isa), reference, "\(isa) C=\(c) k=\(k) s=\(s) d=\(d) pad=\(pad) \(inH)x\(inW)")
            }
        }
    }

    /// `kernel` over every output pixel in two calls split at pixel `split`, into `bytes` bytes
    /// preset to 0xEE (one channel is an ordinary convolution, which needs scratch).
    static func run(_ kernel: Int8ConvKernel, _ input: [UInt8], bytes: Int, split: Int) -> [UInt8] {
        let pixels = kernel.geometry.outHeight * kernel.geometry.outWidth
        var out = [UInt8](repeating: 0xEE, count: bytes)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(kernel.scratchBytes, 64), alignment: 64)
        defer { scratch.deallocate() }
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes {
                kernel.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<split, scratch: scratch)
                kernel.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: split..<pixels, scratch: scratch)
            }
        }
        return out
    }
}
