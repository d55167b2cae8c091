import OctetTestSupport
import XCTest

/// Every SIMD path of the convolution kernels against the scalar twin, on random geometries
/// including odd channel counts, padding, strides, dilations, groups, pixel sub-ranges,
/// strided (sliced) input and output, and rows wide enough for implicit GEMM.
final class Conv2DKernelTests: XCTestCase {
    struct Case {
        var geometry: ConvGeometry
        var weights: [Float], bias: [Float]?, residual: Bool
        var act: (Float, Float)
    }

    func randomCase(_ r: inout TestRandom, depthwise: Bool) -> Case {
        let groups = depthwise ? r.int(1...40) : [1, 1, 1, 2, 3, 4][r.int(0...5)]
        let cinPG = depthwise ? 1 : r.int(1...40)
        let coutPG = depthwise ? 1 : [1, 3, 15, 16, 17, 31, 32, 33, 47, 64, 70][r.int(0...10)]
        let kh = [1, 1, 3, 3, 5, 7][r.int(0...5)], kw = r.bool() ? kh : r.int(1...5)
        let sh = r.int(1...2), sw = r.int(1...2), dh = r.int(1...2), dw = r.int(1...2)
        // Rows up to 40 wide: runs of inside pixels long enough for implicit GEMM (read in place).
        let h = r.int(max(1, (kh - 1) * dh + 1)...17), w = r.int(max(1, (kw - 1) * dw + 1)...(r.bool() ? 19 : 40))
        let pt = r.int(0...kh / 2 + 1), pl = r.int(0...kw / 2 + 1), pb = r.int(0...2), pr = r.int(0...2)
        let oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1, ow = (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1
        let cin = groups * cinPG, cout = groups * coutPG
        let inStride = cin + (r.bool() ? 0 : r.int(1...5)), outStride = cout + (r.bool() ? 0 : r.int(1...5))
        let g = ConvGeometry(inHeight: h, inWidth: w, inPixelStride: inStride, outHeight: oh, outWidth: ow, outPixelStride: outStride,
                             kernel: (kh, kw), stride: (sh, sw), dilation: (dh, dw), padTop: pt, padLeft: pl,
                             groups: groups, inChannelsPerGroup: cinPG, outChannelsPerGroup: coutPG)
        let acts: [(Float, Float)] = [(-.infinity, .infinity), (0, .infinity), (0, 6), (-0.5, 0.25)]
        return Case(geometry: g, weights: r.floats(cout * cinPG * kh * kw), bias: r.bool() ? r.floats(cout) : nil,
                    residual: r.bool(), act: acts[r.int(0...3)])
    }

    /// Runs `c` on `isa` over the given pixel chunks; untouched output channels stay NaN.
    func run(_ c: Case, isa: ISA, input: [Float], residual: [Float], chunks: [Range<Int>],
             algorithm: Conv2DKernel.Algorithm? = nil) -> [Float] {
        let k = Conv2DKernel(geometry: c.geometry, weights: c.weights, bias: c.bias, activationMin: c.act.0,
                             activationMax: c.act.1, isa: isa, algorithm: algorithm)
        var out = [Float](repeating: .nan, count: c.geometry.outPixels * c.geometry.outPixelStride)
        let scratch = AlignedBuffer(count: k.scratchCount)
        input.withUnsafeBufferPointer { x in
            residual.withUnsafeBufferPointer { res in
                out.withUnsafeMutableBufferPointer { y in
                    for chunk in chunks {
                        k.run(input: x.baseAddress!, output: y.baseAddress!, residual: c.residual ? res.baseAddress! : nil,
                              pixels: chunk, scratch: scratch.pointer)
                    }
                }
            }
        }
        return out
    }

    func check(depthwise: Bool, seed: UInt64, cases: Int) {
        var r = TestRandom(seed: seed)
        for i in 0..<cases {
            let c = randomCase(&r, depthwise: depthwise)
            let g = c.geometry
            let input = r.floats(g.inHeight * g.inWidth * g.inPixelStride)
            let residual = r.floats(g.outPixels * g.outPixelStride)
            let expected = run(c, isa: .scalar, input: input, residual: residual, chunks: [0..<g.outPixels])
            // Whole range, and three chunks splitting the pixels at random points.
            let a = r.int(0...g.outPixels), b = r.int(a...g.outPixels)
            for isa in ISA.supported {
                for chunks in [[0..<g.outPixels], [0..<a, a..<b, b..<g.outPixels]] {
                    let got = run(c, isa: isa, input: input, residual: residual, chunks: chunks)
                    for p in 0..<g.outPixels {
                        for ch in 0..<g.outPixelStride {
                            let e = expected[p * g.outPixelStride + ch], v = got[p * g.outPixelStride + ch]
                            if ch >= g.outChannels {
                                XCTAssertTrue(v.isNaN, "case \(i) seed \(seed) \(isa): wrote channel \(ch) beyond \(g.outChannels)")
                                continue
                            }
                            XCTAssertEqual(v, e, accuracy: 1e-4 * max(1, abs(e)),
                                           "case \(i) seed \(seed) \(isa) pixel \(p) channel \(ch) geometry \(g)")
                        }
                    }
                }
            }
        }
    }

    func testDenseAndGroupedMatchScalar() { check(depthwise: false, seed: 1, cases: 150) }
    func testDepthwiseMatchesScalar() { check(depthwise: true, seed: 2, cases: 150) }

    /// Winograd F(2×2, 3×3) on every path against the scalar direct kernel (float rounding
    /// apart), on random geometries it takes: odd and even map sizes, padding 0–2 on each side,
    /// channel counts off the vector widths, strided input and output, bias, residual, clamps.
    /// A pixel's value does not depend on the pixel range computing it: ranges cut anywhere,
    /// inside tile rows too, give the whole range's bits.
    func testWinogradMatchesTheDirectKernelAndRangesGiveTheSameBits() {
        var r = TestRandom(seed: 3)
        var ran = 0
        for i in 0..<60 {
            let cin = r.int(16...70), cout = r.int(16...70)
            let pt = r.int(0...2), pl = r.int(0...2), pb = r.int(0...2), pr = r.int(0...2)
            let h = r.int(max(1, 10 - pt - pb)...23), w = r.int(max(1, 10 - pl - pr)...23)
            let inStride = cin + (r.bool() ? 0 : r.int(1...5)), outStride = cout + (r.bool() ? 0 : r.int(1...5))
            let g = ConvGeometry(inHeight: h, inWidth: w, inPixelStride: inStride, outHeight: h + pt + pb - 2, outWidth: w + pl + pr - 2,
                                 outPixelStride: outStride, kernel: (3, 3), padTop: pt, padLeft: pl,
                                 inChannelsPerGroup: cin, outChannelsPerGroup: cout)
            guard Conv2DKernel.algorithm(for: g, isa: .scalar) == .winograd else { continue }
            ran += 1
            let acts: [(Float, Float)] = [(-.infinity, .infinity), (0, .infinity), (-0.5, 0.25)]
            let c = Case(geometry: g, weights: r.floats(cout * cin * 9), bias: r.bool() ? r.floats(cout) : nil, residual: r.bool(),
                         act: acts[r.int(0...2)])
            let input = r.floats(h * w * inStride), residual = r.floats(g.outPixels * outStride)
            let expected = run(c, isa: .scalar, input: input, residual: residual, chunks: [0..<g.outPixels], algorithm: .direct)
            let a = r.int(0...g.outPixels), b = r.int(a...g.outPixels)
            // Threads get contiguous parts that start at whole tile rows and cover every pixel once.
            let kernel = Conv2DKernel(geometry: g, weights: c.weights, bias: nil, isa: .scalar)
            for parts in 1...5 {
                let ranges = (0..<parts).map { kernel.pixels(part: $0, of: parts) }
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, g.outPixels)
                for (a, b) in zip(ranges, ranges.dropFirst()) {
                    XCTAssertEqual(a.upperBound, b.lowerBound)
                    XCTAssertTrue(b.lowerBound % (2 * g.outWidth) == 0 || b.lowerBound == g.outPixels, "\(ranges)")
                }
            }
            for isa in ISA.supported where Conv2DKernel.algorithm(for: g, isa: isa) == .winograd {
                let whole = run(c, isa: isa, input: input, residual: residual, chunks: [0..<g.outPixels])
                let pieces = run(c, isa: isa, input: input, residual: residual, chunks: [0..<a, a..<b, b..<g.outPixels])
                XCTAssertEqual(whole.map(\.bitPattern), pieces.map(\.bitPattern), "case \(i) \(isa): ranges \(a), \(b) changed bits, \(g)")
                // Sums of 9·cin products, each rounded differently: a bound that grows with the sum's length.
                let tolerance = 2e-6 * Float(9 * cin).squareRoot() * 4
                for p in 0..<g.outPixels {
                    for ch in 0..<g.outPixelStride {
                        let e = expected[p * outStride + ch], v = whole[p * outStride + ch]
                        if ch >= g.outChannels { XCTAssertTrue(v.isNaN, "case \(i) \(isa): wrote channel \(ch)"); continue }
                        XCTAssertEqual(v, e, accuracy: tolerance * max(1, abs(e)), "case \(i) \(isa) pixel \(p) channel \(ch) geometry \(g)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(ran, 30, "too few geometries took Winograd")
    }

    /// The scalar twin itself against a direct definition of convolution on one small case.
    func testScalarMatchesDefinition() {
        // 1 input channel 3x3 image, 2x2 kernel of ones, stride 1, no padding: sums of 2x2 windows.
        let g = ConvGeometry(inHeight: 3, inWidth: 3, inPixelStride: 1, outHeight: 2, outWidth: 2, outPixelStride: 1,
                             kernel: (2, 2), inChannelsPerGroup: 1, outChannelsPerGroup: 1)
        let c = Case(geometry: g, weights: [1, 1, 1, 1], bias: [0.5], residual: false, act: (-.infinity, .infinity))
        let out = run(c, isa: .scalar, input: [1, 2, 3, 4, 5, 6, 7, 8, 9], residual: [0, 0, 0, 0], chunks: [0..<4])
        XCTAssertEqual(out, [12.5, 16.5, 24.5, 28.5])
    }
}
