import OctetTestSupport
import XCTest

/// The dense and grouped INT8 convolution kernels of every ISA path against the scalar twin,
/// through the Swift wrapper: odd shapes, padding, strides, dilations, groups, channel counts
/// around the 4-byte interleave and the 16/32-column panels, strided pixels, 1×1 layers whose
/// rows are read in place, rows wide enough for implicit GEMM (inside pixels read in place), saturation extremes (all-255 inputs, ±63 weights, z_x = 255), u8 and
/// float outputs, requantization overflow, and pixel ranges split as the threads split them.
/// Half the trials use 8-bit weights (the full [-128, 127], and the worst pair sums: all-255
/// inputs against -128 or 127 weights), which the vpmaddubsw paths run split in two halves or
/// widened to 16 bits; every form a path reads is forced and compared.
final class Int8ConvKernelTests: XCTestCase {
    func testEveryPathMatchesTheScalarTwin() {
        var rng = TestRandom(seed: 5)
        for trial in 0..<300 {
            let groups = trial % 5 == 0 ? 1 + rng.below(3) : 1
            var cin = 1 + rng.below(trial % 3 == 0 ? 80 : 20)
            if trial % 4 == 0 { cin = 4 * (1 + rng.below(40)) }          // rows read in place when 1×1
            if trial % 61 == 0 { cin = 260 + rng.below(40) }              // K over one 1024-byte chunk
            let cout = 1 + rng.below(70)
            // Odd trials (8-bit weights) are mostly 1×1; every third one has a wider window too
            // (the widened rows of gathered and implicitly read pixels, saturating weights included).
            var k = trial % 2 == 1 && trial % 3 != 0 ? 1 : 1 + rng.below(5)
            let s = rng.below(3) == 0 ? 2 : 1, d = rng.below(9) == 0 ? 2 : 1
            // Wide rows: runs of inside pixels long enough to be read in place (implicit GEMM).
            var wide = trial % 8 == 2
            if wide && trial % 16 == 2 { cin = 4 * (1 + rng.below(24)) }
            // Stem-like: a 7x7 kernel over a few channels (kernel rows of at most 32 bytes, gathered a row block at a time).
            let stem = trial % 10 == 4
            if stem { k = 7; cin = 1 + rng.below(4); wide = true }
            let inH = stem ? 7 + rng.below(6) : 1 + rng.below(9), inW = wide ? 14 + rng.below(30) : 1 + rng.below(11), span = (k - 1) * d + 1
            let pad = rng.below(2) == 0 ? 0 : rng.below(span)
            guard inH + 2 * pad >= span, inW + 2 * pad >= span else { continue }
            let outH = (inH + 2 * pad - span) / s + 1, outW = (inW + 2 * pad - span) / s + 1
            let inStride = groups * cin + (trial % 6 == 0 ? 1 + rng.below(4) : 0)
            let outStride = groups * cout + (trial % 7 == 0 ? 1 + rng.below(4) : 0)
            let g = ConvGeometry(inHeight: inH, inWidth: inW, inPixelStride: inStride, outHeight: outH, outWidth: outW,
                                 outPixelStride: outStride, kernel: (k, k), stride: (s, s), dilation: (d, d), padTop: pad, padLeft: pad,
                                 groups: groups, inChannelsPerGroup: cin, outChannelsPerGroup: cout)
            let extreme = trial % 9 == 0
            // Odd trials: 8-bit weights (split on the vpmaddubsw paths); even: 7-bit ones (run as they are).
            let eightBit = trial % 2 == 1
            let worst: Int8 = eightBit ? (trial % 4 == 1 ? -128 : 127) : -63
            let weights = (0..<(groups * cout * k * k * cin)).map { _ in
                extreme ? worst : eightBit ? Int8(rng.below(256) - 128) : Int8(rng.below(127) - 63)
            }
            let bias = (0..<(groups * cout)).map { _ in Int32(rng.below(200_000) - 100_000) }
            let zero = extreme ? Int32(255) : Int32(rng.below(256))
            let input = (0..<(inH * inW * inStride)).map { _ in extreme ? UInt8(255) : UInt8(rng.below(256)) }
            // Some trials with huge multipliers: the requantized value overflows Int32 (vcvtps2dq's
            // INT32_MIN, then + z_y wraps) and saturates every narrowing step.
            let scales = (0..<(groups * cout)).map { _ in trial % 17 == 0 ? Float(1 + rng.below(100_000)) * 1e3 : Float(1 + rng.below(1000)) * 2e-5 }
            let outputs: [Int8ConvKernel.Output] = [
                .quantized(multipliers: scales, zeroPoint: Int32(rng.below(256)), lo: trial % 2 == 0 ? 0 : 20, hi: trial % 3 == 0 ? 200 : 255),
                .float(scales: scales, min: trial % 2 == 0 ? -.infinity : 0, max: trial % 3 == 0 ? 6 : .infinity),
            ]
            let pixels = outH * outW
            let split = rng.below(pixels + 1)
            for (o, output) in outputs.enumerated() {
                let bytes = pixels * outStride * (o == 0 ? 1 : 4)
                func run(_ isa: ISA, format: Int8ConvKernel.WeightFormat? = nil) -> (bytes: [UInt8], isa: ISA, format: Int8ConvKernel.WeightFormat, gemm: Bool) {
                    let kernel = Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: trial % 13 == 0 ? [] : bias,
                                                output: output, isa: isa, weightFormat: format)
                    return (kernel.runSplit(input, pixels: pixels, split: split, bytes: bytes), kernel.isa, kernel.weightFormat, kernel.driver == "gemm")
                }
                let reference = run(.scalar).bytes
                let sevenBit = weights.allSatisfy { abs(Int($0)) <= 63 }
                for isa in ISA.supported where isa != .scalar {
                    let (got, used, format, gemm) = run(isa)
                    XCTAssertEqual(used, isa, "every path runs its own kernel")
                    // 8-bit weights: widened to s16 on the vpmaddubsw paths, as they are with VNNI.
                    let eightBitForm: Int8ConvKernel.WeightFormat = isa == .avx512 || isa == .avx2 ? .widened : .plain
                    XCTAssertEqual(format, sevenBit || !gemm ? .plain : eightBitForm, "\(isa)")
                    XCTAssertEqual(got, reference, "\(isa) G=\(groups) cin=\(cin) cout=\(cout) k=\(k) s=\(s) d=\(d) pad=\(pad) \(inH)x\(inW) output \(o)")
                    // Every other exact form the path reads, forced (7- and 8-bit weights alike).
                    for other in [Int8ConvKernel.WeightFormat.split, .widened] where other != format && Int8ConvKernel.readsWeights(other, isa: isa) {
                        let forced = run(isa, format: other)
                        XCTAssertEqual(forced.format, forced.gemm ? other : .plain, "only the GEMM packs weights in other forms")
                        XCTAssertEqual(forced.bytes, reference, "\(isa) \(other) G=\(groups) cin=\(cin) cout=\(cout) k=\(k) s=\(s) d=\(d) pad=\(pad) \(inH)x\(inW) output \(o)")
                    }
                }
                // The scalar twin reads every format too.
                for other in [Int8ConvKernel.WeightFormat.split, .widened] {
                    XCTAssertEqual(run(.scalar, format: other).bytes, reference, "scalar \(other)")
                }
                guard case .quantized = output else { continue }
                // A fused residual Add gives the bytes of the convolution followed by the Add kernel.
                let residual = (0..<bytes).map { _ in extreme ? UInt8(255) : UInt8(rng.below(256)) }
                let add = Int8ConvKernel.ResidualAdd(ma: Float(30 + rng.below(100)) / 100, mb: Float(20 + rng.below(130)) / 100,
                                                     constant: Float(rng.below(200)) - 100.5, lo: trial % 2 == 0 ? 0 : 17,
                                                     hi: trial % 5 == 0 ? 230 : 255, convolutionIsSecond: trial % 3 == 0)
                let (a, b) = add.convolutionIsSecond ? (residual, reference) : (reference, residual)
                var separate = reference
                separate.withUnsafeMutableBufferPointer {
                    QuantizedAddKernel.run(a, add.ma, b, add.mb, constant: add.constant, lo: add.lo, hi: add.hi,
                                           output: $0.baseAddress!, count: bytes, isa: .scalar)
                }
                // Bytes between pixels (strided output) are not the convolution's to write.
                for p in 0..<pixels { for ch in (groups * cout)..<outStride { separate[p * outStride + ch] = reference[p * outStride + ch] } }
                for isa in ISA.supported where Int8ConvKernel.canFuseResidualAdd(g, isa: isa) {
                    let kernel = Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: trial % 13 == 0 ? [] : bias,
                                                output: output, residualAdd: add, isa: isa)
                    var out = [UInt8](repeating: 0xEE, count: bytes)
                    let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(kernel.scratchBytes, 64), alignment: 64)
                    defer { scratch.deallocate() }
                    input.withUnsafeBufferPointer { x in
                        residual.withUnsafeBufferPointer { r in
                            out.withUnsafeMutableBytes {
                                kernel.run(input: x.baseAddress!, output: $0.baseAddress!, residual: r.baseAddress!, pixels: 0..<split, scratch: scratch)
                                kernel.run(input: x.baseAddress!, output: $0.baseAddress!, residual: r.baseAddress!, pixels: split..<pixels, scratch: scratch)
                            }
                        }
                    }
                    XCTAssertEqual(out, separate, "\(isa) fused Add G=\(groups) cin=\(cin) cout=\(cout) k=\(k) s=\(s) pad=\(pad)")
                }
            }
        }
    }
}

extension Int8ConvKernelTests {
    /// Stems of few input channels (kernel rows of 8–32 bytes that are not whole dwords: 3×3 and
    /// 5×5 over 3 channels, 7×7 over 2 or 3, 9×9 over 1), which the VNNI paths lay out in kernel
    /// rows padded to 4 bytes and read in place: every path against the scalar twin, with and
    /// without padding, strides 1 and 2, 1–40 output channels (the layout stops at 32), 7- and
    /// 8-bit weights, inputs wide enough for in-place runs, with no slack after the input (the
    /// last window of the bottom row is gathered: a padded row would read past the end), and
    /// pixel ranges split.
    func testFewChannelStemsMatchTheScalarTwin() {
        var rng = TestRandom(seed: 17)
        let shapes: [(cin: Int, k: Int)] = [(3, 3), (3, 5), (3, 7), (2, 7), (1, 9), (5, 3), (6, 5), (7, 3)]
        for trial in 0..<120 {
            let (cin, k) = shapes[trial % shapes.count]
            let s = trial % 3 == 2 ? 2 : 1, pad = trial % 4 == 1 ? (k - 1) / 2 : 0
            let inH = k + rng.below(8), inW = 16 + rng.below(40)
            let outH = (inH + 2 * pad - k) / s + 1, outW = (inW + 2 * pad - k) / s + 1
            let cout = [8, 10, 16, 28, 32, 33, 1 + rng.below(40)][trial % 7]
            let g = ConvGeometry(inHeight: inH, inWidth: inW, inPixelStride: cin, outHeight: outH, outWidth: outW, outPixelStride: cout,
                                 kernel: (k, k), stride: (s, s), dilation: (1, 1), padTop: pad, padLeft: pad,
                                 groups: 1, inChannelsPerGroup: cin, outChannelsPerGroup: cout)
            let eightBit = trial % 2 == 1
            let weights = (0..<(cout * k * k * cin)).map { _ in eightBit ? Int8(rng.below(256) - 128) : Int8(rng.below(127) - 63) }
            let bias = (0..<cout).map { _ in Int32(rng.below(200_000) - 100_000) }
            let zero = Int32(rng.below(256))
            // Exactly the image: no byte after it to read.
            var input = [UInt8](); input.reserveCapacity(inH * inW * cin)
            for _ in 0..<(inH * inW * cin) { input.append(UInt8(rng.below(256))) }
            let scales = (0..<cout).map { _ in Float(1 + rng.below(1000)) * 2e-5 }
            let output = Int8ConvKernel.Output.quantized(multipliers: scales, zeroPoint: Int32(rng.below(256)), lo: 0, hi: 255)
            let pixels = outH * outW, split = rng.below(pixels + 1)
            func run(_ isa: ISA) -> [UInt8] {
                Int8ConvKernel(geometry: g, inputZeroPoint: zero, weights: weights, bias: bias, output: output, isa: isa)
                    .runSplit(input, pixels: pixels, split: split, bytes: pixels * cout)
            }
            let reference = run(.scalar)
            for isa in ISA.supported where isa != .scalar {
                XCTAssertEqual(run(isa), reference, "\(isa) cin=\(cin) k=\(k) s=\(s) pad=\(pad) \(inH)x\(inW) cout=\(cout) 8-bit=\(eightBit)")
            }
        }
    }

    /// The AVX-VNNI path (VEX `vpdpbusd`, 256-bit) runs 8-bit weights as they are (no split) and
    /// equals the scalar twin on the worst pair sums. Where the CPU has it, the randomized twin
    /// test above forces it too (it runs every supported path).
    func testAVXVNNIPathRunsEightBitWeightsExactly() throws {
        guard ISA.avxvnni.isSupported else {
            throw XCTSkip("this CPU lacks AVX-VNNI (CPUID.(EAX=7,ECX=1):EAX bit 4); the avxvnni kernels are compiled but cannot run here")
        }
        let g = ConvGeometry(inHeight: 5, inWidth: 7, inPixelStride: 37, outHeight: 5, outWidth: 7, outPixelStride: 45,
                             kernel: (3, 3), padTop: 1, padLeft: 1, inChannelsPerGroup: 37, outChannelsPerGroup: 45)
        var rng = TestRandom(seed: 77)
        for weight in [Int8(-128), 127, nil] {
            let weights = (0..<(45 * 9 * 37)).map { _ in weight ?? Int8(rng.below(256) - 128) }
            let input = (0..<(35 * 37)).map { _ in weight == nil ? UInt8(rng.below(256)) : 255 }
            let out = Int8ConvKernel.Output.quantized(multipliers: (0..<45).map { _ in Float(1 + rng.below(100)) * 1e-5 }, zeroPoint: 3, lo: 0, hi: 255)
            func run(_ isa: ISA) -> [UInt8] {
                let k = Int8ConvKernel(geometry: g, inputZeroPoint: 9, weights: weights, bias: [], output: out, isa: isa)
                XCTAssertEqual(k.weightFormat, .plain)
                var y = [UInt8](repeating: 0xEE, count: 35 * 45)
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(k.scratchBytes, 64), alignment: 64)
                defer { scratch.deallocate() }
                input.withUnsafeBufferPointer { x in y.withUnsafeMutableBytes { k.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<35, scratch: scratch) } }
                return y
            }
            XCTAssertEqual(run(.avxvnni), run(.scalar), "weights \(weight.map(String.init) ?? "random")")
        }
    }
}

private extension TestRandom {
    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { int(0...(n - 1)) }
}

/// The peak loops run on every path the CPU has (a positive, finite rate) and refuse the others
/// (nil), never executing an instruction the CPU lacks. No timing is asserted.
final class Int8PeakLoopTests: XCTestCase {
    func testLoopsRunWhereSupported() {
        for loop in Int8PeakLoop.allCases {
            let gops = loop.measure(seconds: 0.002, rounds: 1)
            if loop.isSupported {
                XCTAssertTrue(gops.map { $0 > 0 && $0.isFinite } ?? false, "\(loop): \(String(describing: gops))")
            } else {
                XCTAssertNil(gops, "\(loop)")
            }
        }
        XCTAssertEqual(ISA.allCases.compactMap(Int8PeakLoop.bounding).count, ISA.allCases.count - 1, "every SIMD path has its loop")
    }
}
