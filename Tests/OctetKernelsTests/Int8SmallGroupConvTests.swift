import OctetTestSupport
import XCTest

/// The small-group convolution kernel (RegNet's and ResNeXt's grouped 3×3 layers: 4–16 input and
/// at most 16 output channels per group, one output channel per lane) of every SIMD path this CPU
/// has against the scalar twin: every supported group shape, channel tails, tiles that start
/// inside a group (output channels per group not dividing the lanes), padding, strides,
/// dilations, strided pixels, z_x at 0 and 255, weights at −128 and 127 (where `vpmaddubsw` pair
/// sums would saturate), u8 outputs with clamps and float outputs, pixel ranges split as the
/// threads split them. The test asserts that the kernel is the one running where its rule says.
final class Int8SmallGroupConvTests: XCTestCase {
    func testSmallGroupKernelMatchesTheScalarTwin() throws {
        let paths = ISA.supported.filter { $0 != .scalar }
        guard !paths.isEmpty else { throw XCTSkip("no SIMD path on this CPU: only the scalar twin runs") }
        for isa in paths { try check(isa) }
    }

    func check(_ isa: ISA) throws {
        let (lanes, most) = try XCTUnwrap(Int8ConvKernel.smallGroupTile(isa), "\(isa) has no small-group kernel")
        var rng = TestRandom(seed: 81)
        func below(_ n: Int) -> Int { rng.int(0...(n - 1)) }
        var ran = 0
        for trial in 0..<240 {
            let cin = 4 * (1 + below(4))
            let cout = trial % 3 == 0 ? cin : 1 + below(16)
            let groups = 2 + below(trial % 4 == 0 ? 60 : 12)
            let k = [1, 3, 3, 5][below(4)], s = below(3) == 0 ? 2 : 1, d = below(7) == 0 ? 2 : 1
            let inH = 1 + below(9), inW = 1 + below(12), span = (k - 1) * d + 1
            let pad = below(2) == 0 ? 0 : below(span)
            guard inH + 2 * pad >= span, inW + 2 * pad >= span else { continue }
            let outH = (inH + 2 * pad - span) / s + 1, outW = (inW + 2 * pad - span) / s + 1
            let inStride = groups * cin + (trial % 5 == 0 ? 1 + below(4) : 0)
            let outStride = groups * cout + (trial % 7 == 0 ? 1 + below(4) : 0)
            let g = ConvGeometry(inHeight: inH, inWidth: inW, inPixelStride: inStride, outHeight: outH, outWidth: outW,
                                 outPixelStride: outStride, kernel: (k, k), stride: (s, s), dilation: (d, d), padTop: pad, padLeft: pad,
                                 groups: groups, inChannelsPerGroup: cin, outChannelsPerGroup: cout)
            let extreme = trial % 6 == 0
            let weights = (0..<(groups * cout * k * k * cin)).map { _ in extreme ? Int8([-128, 127][trial % 12 == 0 ? 0 : 1]) : Int8(below(256) - 128) }
            let bias = (0..<(groups * cout)).map { _ in Int32(below(200_000) - 100_000) }
            let zero = extreme ? Int32(255) : trial % 11 == 0 ? 0 : Int32(below(256))
            let input = (0..<(inH * inW * inStride)).map { _ in extreme ? UInt8(255) : UInt8(below(256)) }
            let scales = (0..<(groups * cout)).map { _ in Float(1 + below(1000)) * 2e-5 }
            let outputs: [Int8ConvKernel.Output] = [
                .quantized(multipliers: scales, zeroPoint: Int32(below(256)), lo: trial % 2 == 0 ? 0 : 20, hi: trial % 3 == 0 ? 200 : 255),
                .float(scales: scales, min: trial % 2 == 0 ? -.infinity : 0, max: trial % 3 == 0 ? 6 : .infinity),
            ]
            let pixels = outH * outW, split = below(pixels + 1)
            for (o, output) in outputs.enumerated() {
                func run(_ isa: ISA) -> (bytes: [UInt8], driver: String) {
                    let kernel = Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: trial % 13 == 0 ? [] : bias,
                                                output: output, isa: isa)
                    return (kernel.runSplit(input, pixels: pixels, split: split, bytes: pixels * outStride * (o == 0 ? 1 : 4)), kernel.driver)
                }
                let (got, driver) = run(isa)
                // A tile of `lanes` consecutive outputs reading more input bytes than one load
                // brings stays on the GEMM driver.
                let fits = (0..<((groups * cout + lanes - 1) / lanes)).allSatisfy { t in
                    let first = lanes * t / cout, last = (min(lanes * t + lanes, groups * cout) - 1) / cout
                    return (last - first + 1) * cin <= most
                }
                XCTAssertEqual(driver, fits ? "small-group" : "gemm", "\(isa) G=\(groups) cin=\(cin) cout=\(cout)")
                if fits { ran += 1 }
                XCTAssertEqual(got, run(.scalar).bytes,
                               "\(isa) G=\(groups) cin=\(cin) cout=\(cout) k=\(k) s=\(s) d=\(d) pad=\(pad) \(inH)x\(inW) z=\(zero) output \(o)")
            }
        }
        XCTAssertGreaterThan(ran, 120, "too few trials ran the \(isa) small-group kernel")
        // A grouped layer the fused residual Add can no longer take (this driver has none).
        let regnet = ConvGeometry(inHeight: 7, inWidth: 7, inPixelStride: 48, outHeight: 7, outWidth: 7, outPixelStride: 48,
                                  kernel: (3, 3), stride: (1, 1), dilation: (1, 1), padTop: 1, padLeft: 1,
                                  groups: 6, inChannelsPerGroup: 8, outChannelsPerGroup: 8)
        XCTAssertFalse(Int8ConvKernel.canFuseResidualAdd(regnet, isa: isa))
        XCTAssertTrue(Int8ConvKernel.canFuseResidualAdd(regnet, isa: .scalar))
    }
}
