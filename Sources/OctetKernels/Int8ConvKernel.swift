import CKernels

/// An integer (u8 × s8 → s32) convolution with fused requantization or dequantization, its
/// weights packed once for the chosen path. Bit-exact with `Int8Arithmetic` on every path.
public final class Int8ConvKernel: @unchecked Sendable {
    /// What the accumulators become: requantized u8 codes, or dequantized floats.
    public enum Output: Sendable {
        case quantized(multipliers: [Float], zeroPoint: Int32, lo: Int32, hi: Int32)
        case float(scales: [Float], min: Float, max: Float)
    }

    public let geometry: ConvGeometry
    /// The path actually used: a `vpmaddubsw` path (avx512, avx2) asked for with weights outside
    /// ±63 would saturate, so such a kernel runs the scalar twin instead.
    public let isa: ISA
    public let scratchBytes: Int
    private var params: ck_conv2d_u8s8_params
    private let packed: UnsafeMutableRawPointer
    private let bias: [Int32]
    private let scales: [Float]
    private var output: ck_u8s8_output
    private let depthwise: Bool

    /// - Parameter weights: `[outC][kh][kw][inC / groups]`.
    public init(geometry g: ConvGeometry, inputZeroPoint: Int32, weights: [Int8], bias: [Int32], output: Output, isa requested: ISA) {
        var p = ck_conv2d_u8s8_params(
            in_h: g.inHeight, in_w: g.inWidth, in_pixel_stride: g.inPixelStride, out_h: g.outHeight, out_w: g.outWidth,
            out_pixel_stride: g.outPixelStride, kernel_h: g.kernel.h, kernel_w: g.kernel.w, stride_h: g.stride.h, stride_w: g.stride.w,
            dilation_h: g.dilation.h, dilation_w: g.dilation.w, pad_top: g.padTop, pad_left: g.padLeft,
            groups: g.groups, cin_per_group: g.inChannelsPerGroup, cout_per_group: g.outChannelsPerGroup,
            input_zero_point: inputZeroPoint)
        geometry = g
        let depthwise = g.isDepthwise
        self.depthwise = depthwise
        let sevenBit = weights.allSatisfy { $0 >= -63 && $0 <= 63 }
        let saturates = !depthwise && !sevenBit
        switch requested {
        case .avx512 where saturates, .avx2 where saturates: isa = .scalar
        case .avx512vnni, .avx512, .avx2, .scalar: isa = requested
        }
        let size = depthwise ? ck_dwconv2d_u8s8_packed_weights_size(&p) : ck_conv2d_u8s8_packed_weights_size(&p)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
        weights.withUnsafeBufferPointer {
            if depthwise { ck_dwconv2d_u8s8_pack_weights(&p, $0.baseAddress, buffer) }
            else { ck_conv2d_u8s8_pack_weights(&p, $0.baseAddress, buffer) }
        }
        packed = buffer
        scratchBytes = depthwise ? 0 : ck_conv2d_u8s8_scratch_size(&p)
        params = p
        self.bias = bias
        switch output {
        case .quantized(let m, let zp, let lo, let hi):
            scales = m
            self.output = ck_u8s8_output(mode: Int32(CK_U8S8_OUT_U8), scale: nil, zero_point: zp, lo: lo, hi: hi, fmin: 0, fmax: 0)
        case .float(let s, let lo, let hi):
            scales = s
            self.output = ck_u8s8_output(mode: Int32(CK_U8S8_OUT_F32), scale: nil, zero_point: 0, lo: 0, hi: 0, fmin: lo, fmax: hi)
        }
    }

    deinit { packed.deallocate() }

    /// Output pixels `pixels` of one image; `output` holds u8 codes or floats per the output mode.
    public func run(input: UnsafePointer<UInt8>, output out: UnsafeMutableRawPointer, pixels: Range<Int>, scratch: UnsafeMutableRawPointer?) {
        guard !pixels.isEmpty else { return }
        let lo = pixels.lowerBound, hi = pixels.upperBound
        scales.withUnsafeBufferPointer { s in
            bias.withUnsafeBufferPointer { biasBuffer in
                let b = UnsafeBufferPointer(start: bias.isEmpty ? nil : biasBuffer.baseAddress, count: bias.count)
                var stage = output
                stage.scale = s.baseAddress
                withUnsafePointer(to: &params) { p in
                    if depthwise {
                        switch isa {
                        case .avx512vnni: ck_dwconv2d_u8s8_nhwc__avx512vnni(p, input, packed, b.baseAddress, &stage, out, lo, hi)
                        case .avx512: ck_dwconv2d_u8s8_nhwc__avx512(p, input, packed, b.baseAddress, &stage, out, lo, hi)
                        case .avx2: ck_dwconv2d_u8s8_nhwc__avx2(p, input, packed, b.baseAddress, &stage, out, lo, hi)
                        case .scalar: ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed, b.baseAddress, &stage, out, lo, hi)
                        }
                    } else {
                        switch isa {
                        case .avx512vnni: ck_conv2d_u8s8_nhwc__avx512vnni(p, input, packed, b.baseAddress, &stage, out, lo, hi, scratch)
                        case .avx512: ck_conv2d_u8s8_nhwc__avx512bw(p, input, packed, b.baseAddress, &stage, out, lo, hi, scratch)
                        case .avx2: ck_conv2d_u8s8_nhwc__avx2(p, input, packed, b.baseAddress, &stage, out, lo, hi, scratch)
                        case .scalar: ck_conv2d_u8s8_nhwc__scalar(p, input, packed, b.baseAddress, &stage, out, lo, hi, scratch)
                        }
                    }
                }
            }
        }
    }
}
