import CKernels

/// A 2-D convolution with fused bias, optional residual add and clamp, its weights packed
/// once for the chosen ISA path. Dense and grouped convolutions use the GEMM kernels,
/// depthwise ones their own.
public final class Conv2DKernel: @unchecked Sendable {
    public let geometry: ConvGeometry
    public let isa: ISA
    public let activationMin: Float, activationMax: Float
    /// An activation applied after the clamp (Sigmoid, HardSwish, HardSigmoid, SiLU): each chunk
    /// of output pixels while it is still in cache, with the same kernel as a separate step, so
    /// the same bits.
    public let postActivation: ActivationKernel?
    private var params: ck_conv2d_f32_params
    private let packed: AlignedBuffer
    private let bias: AlignedBuffer?
    /// Floats of scratch one concurrent caller needs.
    public let scratchCount: Int

    /// - Parameters:
    ///   - weights: ONNX OIHW layout, `[groups*outPerGroup][inPerGroup][kh][kw]`.
    ///   - bias: one per output channel, or nil.
    public init(geometry: ConvGeometry, weights: [Float], bias: [Float]?, activationMin: Float = -.infinity,
                activationMax: Float = .infinity, postActivation: ActivationKernel? = nil, isa: ISA) {
        self.postActivation = postActivation
        precondition(weights.count == geometry.outChannels * geometry.inChannelsPerGroup * geometry.kernel.h * geometry.kernel.w,
                     "internal: conv weight count does not match geometry")
        self.geometry = geometry
        self.isa = isa
        self.activationMin = activationMin
        self.activationMax = activationMax
        var p = geometry.params(min: activationMin, max: activationMax)
        params = p
        let buffer: AlignedBuffer
        if geometry.isDepthwise {
            buffer = AlignedBuffer(count: ck_dwconv2d_f32_packed_weights_size(&p))
            weights.withUnsafeBufferPointer { ck_dwconv2d_f32_pack_weights(&p, $0.baseAddress, buffer.pointer) }
            scratchCount = 0
        } else {
            buffer = AlignedBuffer(count: ck_conv2d_f32_packed_weights_size(&p))
            weights.withUnsafeBufferPointer { ck_conv2d_f32_pack_weights(&p, $0.baseAddress, buffer.pointer) }
            scratchCount = ck_conv2d_f32_scratch_size(&p)
        }
        packed = buffer
        self.bias = bias.map { AlignedBuffer($0) }
    }

    private init(geometry: ConvGeometry, sharing other: Conv2DKernel) {
        self.geometry = geometry
        postActivation = other.postActivation
        isa = other.isa
        activationMin = other.activationMin
        activationMax = other.activationMax
        var p = geometry.params(min: other.activationMin, max: other.activationMax)
        params = p
        packed = other.packed
        bias = other.bias
        scratchCount = geometry.isDepthwise ? 0 : ck_conv2d_f32_scratch_size(&p)
    }

    /// This dense layer (a 1×1 convolution of a 1×1 image, one group) over `rows` rows at once,
    /// one row per image, sharing the packed weights: each output row has the same sum order
    /// as the one-pixel kernel's, hence the same bits. Nil for any other convolution.
    public func overRows(_ rows: Int) -> Conv2DKernel? {
        let g = geometry
        guard rows > 0, g.outPixels == 1, g.inHeight == 1, g.inWidth == 1, g.kernel == (1, 1), g.groups == 1,
              g.inPixelStride == g.inChannelsPerGroup, g.outPixelStride == g.outChannelsPerGroup else { return nil }
        let rowsGeometry = ConvGeometry(inHeight: 1, inWidth: rows, inPixelStride: g.inChannelsPerGroup, outHeight: 1, outWidth: rows,
                                        outPixelStride: g.outChannelsPerGroup, kernel: (1, 1),
                                        inChannelsPerGroup: g.inChannelsPerGroup, outChannelsPerGroup: g.outChannelsPerGroup)
        return Conv2DKernel(geometry: rowsGeometry, sharing: self)
    }

    /// Output rows `rows` of this depthwise convolution, reading only a band of its input:
    /// the `bandRowCount` input rows from `firstBandRow` on, stored contiguously at `band`
    /// (full width, the input's pixel stride). The band must hold every input row the output
    /// rows' windows reach inside the image. `output` and `residual` address the whole image's
    /// output. Each output pixel gets the same taps in the same order as from the whole input
    /// (rows outside the band are outside the image or outside the windows), so the same bits.
    public func runDepthwise(rows: Range<Int>, band: UnsafePointer<Float>, firstBandRow: Int, bandRowCount: Int,
                             output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        let g = geometry
        precondition(g.isDepthwise, "internal: runDepthwise on a dense convolution")
        guard !rows.isEmpty else { return }
        var bandGeometry = g
        bandGeometry.inHeight = bandRowCount
        bandGeometry.outHeight = rows.count
        // Input row of output row r, tap 0: r·stride − padTop; in band rows, minus firstBandRow.
        bandGeometry.padTop = firstBandRow - rows.lowerBound * g.stride.h + g.padTop
        precondition(bandGeometry.padTop >= 0, "internal: band starts below the first output row's window")
        var p = bandGeometry.params(min: activationMin, max: activationMax)
        let offset = rows.lowerBound * g.outWidth * g.outPixelStride
        run(params: &p, channels: g.outChannels, stride: g.outPixelStride, input: band, output: output + offset,
            residual: residual.map { $0 + offset }, pixels: 0..<(rows.count * g.outWidth), scratch: nil)
    }

    /// Computes output pixels `pixels` of one image. `residual` (same layout as `output`)
    /// is added before the clamp, then `postActivation` (if any) is applied. `scratch` must hold
    /// `scratchCount` floats.
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    residual: UnsafePointer<Float>? = nil, pixels: Range<Int>, scratch: UnsafeMutablePointer<Float>?) {
        run(params: &params, channels: geometry.outChannels, stride: geometry.outPixelStride, input: input, output: output,
            residual: residual, pixels: pixels, scratch: scratch)
    }

    private func run(params: inout ck_conv2d_f32_params, channels: Int, stride: Int, input: UnsafePointer<Float>,
                     output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, pixels: Range<Int>,
                     scratch: UnsafeMutablePointer<Float>?) {
        guard let post = postActivation else {
            return convolve(&params, input: input, output: output, residual: residual, pixels: pixels, scratch: scratch)
        }
        // In chunks of pixels whose outputs stay in cache until the activation reads them back.
        let chunk = Swift.max(Self.postChunkFloats / Swift.max(channels, 1) / 14, 1) * 14
        var lo = pixels.lowerBound
        while lo < pixels.upperBound {
            let hi = Swift.min(lo + chunk, pixels.upperBound)
            convolve(&params, input: input, output: output, residual: residual, pixels: lo..<hi, scratch: scratch)
            if stride == channels {
                post.run(output + lo * stride, output + lo * stride, count: (hi - lo) * channels)
            } else {
                for p in lo..<hi { post.run(output + p * stride, output + p * stride, count: channels) }
            }
            lo = hi
        }
    }

    /// Output floats per chunk when an activation follows (about half of L1).
    static let postChunkFloats = 4096

    private func convolve(_ params: inout ck_conv2d_f32_params, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                          residual: UnsafePointer<Float>?, pixels: Range<Int>, scratch: UnsafeMutablePointer<Float>?) {
        guard !pixels.isEmpty else { return }
        let b = UnsafePointer(bias?.pointer)
        let w = UnsafePointer(packed.pointer)
        let lo = pixels.lowerBound, hi = pixels.upperBound
        withUnsafePointer(to: &params) { p in
            if geometry.isDepthwise {
                isa.kernels.pointee.dwconv2d_f32(p, input, w, b, residual, output, lo, hi)
            } else {
                isa.kernels.pointee.conv2d_f32(p, input, w, b, residual, output, lo, hi, scratch)
            }
        }
    }
}
