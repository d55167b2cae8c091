import CKernels

/// A 2-D convolution with fused bias, optional residual add and clamp, its weights packed
/// once for the chosen ISA path. Dense and grouped convolutions use the GEMM kernels,
/// depthwise ones their own, and 3×3 ones of stride 1 on maps and channel counts large enough
/// Winograd F(2×2, 3×3) (`Algorithm.winograd`).
public final class Conv2DKernel: @unchecked Sendable {
    /// How the kernel computes the convolution.
    public enum Algorithm: String, Sendable {
        /// Sums of products over the window (im2col or implicit GEMM).
        case direct
        /// One kernel per channel (groups == channels).
        case depthwise
        /// Winograd F(2×2, 3×3): each 2×2 output tile from 16 products per input channel
        /// instead of 36 (2.25× fewer multiplications); results differ from `direct` by float
        /// rounding. Every ISA path computes the same transforms, and a pixel's value does not
        /// depend on the pixel range computing it.
        case winograd
    }

    public let geometry: ConvGeometry
    public let algorithm: Algorithm
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

    /// The algorithm a convolution runs with on `isa` unless told otherwise: Winograd for a dense
    /// 3×3 convolution of stride 1 and dilation 1 with an output of at least 8×8 pixels (smaller
    /// maps waste too much of their 2×2 tiles and read their 16 transformed weight matrices for too
    /// few tiles) and at least 16 output channels and 16 input channels, 32 on the AVX-512 paths
    /// (their 14×32 GEMM tile runs the 16 products' sums of 16 channels below the direct kernel's
    /// speed; docs/benchmarks.md); depthwise or direct otherwise.
    public static func algorithm(for g: ConvGeometry, isa: ISA) -> Algorithm {
        if g.isDepthwise { return .depthwise }
        let minimumInput = isa == .avx512 || isa == .avx512vnni ? 32 : 16
        let winograd = g.kernel == (3, 3) && g.stride == (1, 1) && g.dilation == (1, 1) && g.groups == 1
            && g.inChannelsPerGroup >= minimumInput && g.outChannelsPerGroup >= 16 && g.outHeight >= 8 && g.outWidth >= 8
        return winograd ? .winograd : .direct
    }

    /// Output pixels per unit of work: a Winograd kernel computes whole 2×2 tiles, so a pixel
    /// range that ends inside a tile row recomputes that row in the next range.
    public var pixelGrain: Int { algorithm == .winograd ? 2 * geometry.outWidth : 1 }

    /// Whole units of work (`pixelGrain` pixels) in the output.
    public var pixelUnits: Int { (geometry.outPixels + pixelGrain - 1) / pixelGrain }

    /// Part `part` of the output pixels split into `parts` contiguous ranges at whole units of
    /// work: how callers share one image's pixels among threads.
    public func pixels(part: Int, of parts: Int) -> Range<Int> {
        let units = pixelUnits, grain = pixelGrain, pixels = geometry.outPixels
        return min(pixels, units * part / parts * grain)..<min(pixels, units * (part + 1) / parts * grain)
    }

    /// - Parameters:
    ///   - weights: ONNX OIHW layout, `[groups*outPerGroup][inPerGroup][kh][kw]`.
    ///   - bias: one per output channel, or nil.
    ///   - algorithm: nil for `Conv2DKernel.algorithm(for:isa:)`; `.direct` to force sums of products
    ///     (tests, comparisons). Nothing else is forced: a depthwise geometry always runs
    ///     `.depthwise`, and Winograd runs only where `algorithm(for:isa:)` chooses it.
    public init(geometry: ConvGeometry, weights: [Float], bias: [Float]?, activationMin: Float = -.infinity,
                activationMax: Float = .infinity, postActivation: ActivationKernel? = nil, isa: ISA, algorithm: Algorithm? = nil) {
        self.postActivation = postActivation
        precondition(weights.count == geometry.outChannels * geometry.inChannelsPerGroup * geometry.kernel.h * geometry.kernel.w,
                     "internal: conv weight count does not match geometry")
        self.geometry = geometry
        self.isa = isa
        self.activationMin = activationMin
        self.activationMax = activationMax
        var p = geometry.params(min: activationMin, max: activationMax)
        params = p
        let chosen = Self.algorithm(for: geometry, isa: isa)
        let algorithm: Algorithm = chosen == .winograd && algorithm == .direct ? .direct : chosen
        self.algorithm = algorithm
        let buffer: AlignedBuffer
        if geometry.isDepthwise {
            buffer = AlignedBuffer(count: ck_dwconv2d_f32_packed_weights_size(&p))
            weights.withUnsafeBufferPointer { ck_dwconv2d_f32_pack_weights(&p, $0.baseAddress, buffer.pointer) }
            scratchCount = 0
        } else if algorithm == .winograd {
            buffer = AlignedBuffer(count: ck_wino3x3_f32_packed_weights_size(&p))
            let packed = weights.withUnsafeBufferPointer { ck_wino3x3_f32_pack_weights(&p, $0.baseAddress, buffer.pointer) }
            precondition(packed == 0, "out of memory transforming Winograd weights")
            scratchCount = ck_wino3x3_f32_scratch_size(&p)
        } else {
            buffer = AlignedBuffer(count: ck_conv2d_f32_packed_weights_size(&p))
            weights.withUnsafeBufferPointer { ck_conv2d_f32_pack_weights(&p, $0.baseAddress, buffer.pointer) }
            scratchCount = ck_conv2d_f32_scratch_size(&p)
        }
        packed = buffer
        self.bias = bias.map { AlignedBuffer($0) }
    }

    private init(geometry: ConvGeometry, sharing other: Conv2DKernel) {
        precondition(other.algorithm == .direct, "internal: only direct kernels share their packing")
        self.geometry = geometry
        algorithm = .direct
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
        guard rows > 0, algorithm == .direct, g.outPixels == 1, g.inHeight == 1, g.inWidth == 1, g.kernel == (1, 1), g.groups == 1,
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
        // In chunks of pixels whose outputs stay in cache until the activation reads them back
        // (whole tile rows for Winograd).
        let grain = algorithm == .winograd ? pixelGrain : 14
        let chunk = Swift.max(Self.postChunkFloats / Swift.max(channels, 1) / grain, 1) * grain
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
            switch algorithm {
            case .depthwise: isa.kernels.pointee.dwconv2d_f32(p, input, w, b, residual, output, lo, hi)
            case .winograd: isa.kernels.pointee.wino3x3_f32(p, input, w, b, residual, output, lo, hi, scratch)
            case .direct: isa.kernels.pointee.conv2d_f32(p, input, w, b, residual, output, lo, hi, scratch)
            }
        }
    }
}
