import CKernels

/// An integer (u8 × s8 → s32) convolution with fused requantization or dequantization, its
/// weights packed once for the chosen path. Bit-exact with `Int8Arithmetic` on every path.
public final class Int8ConvKernel: @unchecked Sendable {
    /// What the accumulators become: requantized u8 codes, or dequantized floats.
    public enum Output: Sendable {
        case quantized(multipliers: [Float], zeroPoint: Int32, lo: Int32, hi: Int32)
        case float(scales: [Float], min: Float, max: Float)
    }

    /// A residual Add fused into the u8 output (oneDNN's "sum post-op"): each requantized code q
    /// is added to the residual code r at the same place with ONNX Runtime's QLinearAdd formula
    /// (`Int8Arithmetic.add`), as if the convolution's output were materialized and then added.
    public struct ResidualAdd: Sendable, Equatable {
        public var ma: Float, mb: Float, constant: Float
        public var lo: Int32, hi: Int32
        /// Whether the convolution's output is the Add's second operand (`b`).
        public var convolutionIsSecond: Bool
        public init(ma: Float, mb: Float, constant: Float, lo: Int32, hi: Int32, convolutionIsSecond: Bool) {
            (self.ma, self.mb, self.constant, self.lo, self.hi, self.convolutionIsSecond) = (ma, mb, constant, lo, hi, convolutionIsSecond)
        }
    }

    public let geometry: ConvGeometry
    /// The fused residual Add, if any (`run` then reads the residual tensor).
    public let residualAdd: ResidualAdd?
    /// The path the kernel runs on (the one asked for: every path is exact for 8-bit weights).
    public let isa: ISA
    /// How the weights are packed for the GEMM (`CK_Q8_WEIGHTS_*` of `ck_int8.h`).
    public enum WeightFormat: Int32, Sendable, CaseIterable, CustomStringConvertible {
        /// As they are: every VNNI path, and 7-bit weights (within ±63) on the `vpmaddubsw` paths.
        case plain = 0
        /// Two halves within ±64 each, so no `vpmaddubsw` pair sum saturates: twice the multiplies.
        case split = 1
        /// Widened to 16 bits for `vpmaddwd` against activations widened to u16 (rows widened per row
        /// block on AVX2, in registers on AVX512BW): one multiply per product, none saturates.
        case widened = 2

        public var description: String {
            switch self {
            case .plain: "plain"
            case .split: "8-bit split"
            case .widened: "8-bit s16"
            }
        }
    }

    /// The form the weights run in: the path's choice for 8-bit weights outside ±63
    /// (`ck_kernels.gemm_u8s8_8bit`: widened on avx512 and avx2, where it measured 1.2–1.3× the
    /// split form), plain otherwise. Exact in every form.
    public let weightFormat: WeightFormat
    public let scratchBytes: Int
    // What `run` hands the C kernel, in memory this kernel owns: every image of every worker
    // thread runs it, and arrays or inout properties read through this shared object were retained
    // (or exclusivity-checked) per call from both cores.
    private let params: UnsafeMutablePointer<ck_conv2d_u8s8_params>
    private let packed: UnsafeMutableRawPointer
    /// The bias (nil when the layer has none) and the per-channel multipliers or scales.
    private let bias: UnsafeMutablePointer<Int32>?
    private let scales: UnsafeMutablePointer<Float>
    /// The output stage with `scale` pointing at `scales` (`add` set per call).
    private let output: ck_u8s8_output
    private let variant: Variant

    /// The driver a layer runs on: the GEMM (dense and grouped: the shared driver over the path's
    /// microkernels), depthwise, or the per-channel small-group kernel (`ck_gconv2d_u8s8`, every
    /// SIMD path: vpdpbusd on avx512vnni, vpmaddwd on inputs widened to 16 bits on avx512 and
    /// avx2) for groups of 4–16 channels.
    enum Variant { case gemm, depthwise, smallGroups }

    /// The tile of `isa`'s small-group kernel: the output channels of one vector and the input
    /// bytes of one pixel it can load for them (a layer runs on it when every tile's groups fit);
    /// nil where the path has none.
    public static func smallGroupTile(_ isa: ISA) -> (lanes: Int, bytes: Int)? {
        guard isa.kernels.pointee.gconv2d_u8s8 != nil else { return nil }
        let form = isa.kernels.pointee.gconv_form
        return (Int(form.lanes), (form.s16 != 0 ? 2 : 4) * Int(form.lanes))
    }

    static func variant(_ g: ConvGeometry, isa: ISA) -> Variant {
        if g.isDepthwise { return .depthwise }
        guard isa.kernels.pointee.gconv2d_u8s8 != nil else { return .gemm }
        var p = Self.params(g, inputZeroPoint: 0)
        var form = isa.kernels.pointee.gconv_form
        return ck_gconv2d_u8s8_supported(&form, &p) != 0 ? .smallGroups : .gemm
    }

    static func params(_ g: ConvGeometry, inputZeroPoint: Int32) -> ck_conv2d_u8s8_params {
        ck_conv2d_u8s8_params(
            in_h: g.inHeight, in_w: g.inWidth, in_pixel_stride: g.inPixelStride, out_h: g.outHeight, out_w: g.outWidth,
            out_pixel_stride: g.outPixelStride, kernel_h: g.kernel.h, kernel_w: g.kernel.w, stride_h: g.stride.h, stride_w: g.stride.w,
            dilation_h: g.dilation.h, dilation_w: g.dilation.w, pad_top: g.padTop, pad_left: g.padLeft,
            groups: g.groups, cin_per_group: g.inChannelsPerGroup, cout_per_group: g.outChannelsPerGroup,
            input_zero_point: inputZeroPoint, weight_format: WeightFormat.plain.rawValue, segmented_rows: 0)
    }

    /// Which driver runs this kernel (`octet bench --profile` shows it beside the ISA).
    public var driver: String {
        switch variant {
        case .gemm: "gemm"
        case .depthwise: "depthwise"
        case .smallGroups: "small-group"
        }
    }

    /// What runs this layer, as the profile prints it: the GEMM's full-tile microkernel for its
    /// weight format (e.g. `qu8s8_gemm_14x32c4__avx512vnni`, `qu8s8_gemm_6x16c4_s16__avx2`,
    /// "scalar" on the scalar path), else the driver's name.
    public var kernelName: String { variant == .gemm ? isa.gemmMicrokernel(weightFormat) ?? isa.gemmMicrokernel : driver }

    /// Whether the GEMM of `isa` reads weights packed as `format`.
    public static func readsWeights(_ format: WeightFormat, isa: ISA) -> Bool {
        isa.kernels.pointee.gemm_u8s8_formats & (1 << UInt32(format.rawValue)) != 0
    }

    /// Whether a kernel of this geometry on `isa` can fuse a residual Add into a u8 output: dense
    /// and grouped convolutions on the GEMM driver, every path (not the depthwise and small-group
    /// kernels).
    public static func canFuseResidualAdd(_ g: ConvGeometry, isa: ISA) -> Bool {
        variant(g, isa: isa) == .gemm
    }

    /// - Parameters:
    ///   - weights: `[outC][kh][kw][inC / groups]`.
    ///   - residualAdd: an Add to fuse into the u8 output; only where `canFuseResidualAdd` says so.
    ///   - weightFormat: forces a packing of the GEMM's weights the path reads (`readsWeights`),
    ///     to compare them (tests, benchmarks); nil takes the path's choice.
    public init(geometry g: ConvGeometry, inputZeroPoint: Int32, weights: [Int8], bias: [Int32], output: Output,
                residualAdd: ResidualAdd? = nil, isa requested: ISA, weightFormat forced: WeightFormat? = nil) {
        precondition(residualAdd == nil || Self.canFuseResidualAdd(g, isa: requested), "internal: residual Add on a kernel without it")
        precondition(weights.count == g.outChannels * g.kernel.h * g.kernel.w * g.inChannelsPerGroup,
                     "internal: \(weights.count) weights for a \(g) convolution")
        self.residualAdd = residualAdd
        var p = Self.params(g, inputZeroPoint: inputZeroPoint)
        geometry = g
        let variant = Self.variant(g, isa: requested)
        self.variant = variant
        let sevenBit = weights.allSatisfy { $0 >= -63 && $0 <= 63 }
        isa = requested
        let table = requested.kernels.pointee
        let chosen = variant != .gemm ? .plain : forced ?? (sevenBit ? .plain : WeightFormat(rawValue: table.gemm_u8s8_8bit) ?? .split)
        precondition(Self.readsWeights(chosen, isa: requested), "internal: \(chosen) weights on the \(requested) path")
        precondition(chosen != .plain || sevenBit || variant != .gemm || table.gemm_u8s8_8bit == WeightFormat.plain.rawValue,
                     "internal: 8-bit weights unsplit on a vpmaddubsw path")
        weightFormat = chosen
        p.weight_format = chosen.rawValue
        p.segmented_rows = variant == .gemm ? table.gemm_u8s8_segmented : 0
        var form = table.gconv_form
        let size = switch variant {
        case .gemm: ck_conv2d_u8s8_packed_weights_size(&p)
        case .depthwise: ck_dwconv2d_u8s8_packed_weights_size(&p)
        case .smallGroups: ck_gconv2d_u8s8_packed_weights_size(&form, &p)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
        weights.withUnsafeBufferPointer {
            switch variant {
            case .gemm: ck_conv2d_u8s8_pack_weights(&p, $0.baseAddress, buffer)
            case .depthwise: ck_dwconv2d_u8s8_pack_weights(&p, $0.baseAddress, buffer)
            case .smallGroups: ck_gconv2d_u8s8_pack_weights(&form, &p, $0.baseAddress, buffer)
            }
        }
        packed = buffer
        scratchBytes = variant == .gemm ? ck_conv2d_u8s8_scratch_size(&p) : 0
        params = UnsafeMutablePointer.allocate(capacity: 1)
        params.initialize(to: p)
        self.bias = bias.isEmpty ? nil : Self.copy(bias)
        switch output {
        case .quantized(let m, let zp, let lo, let hi):
            scales = Self.copy(m)
            self.output = ck_u8s8_output(mode: Int32(CK_U8S8_OUT_U8), scale: scales, zero_point: zp, lo: lo, hi: hi, fmin: 0, fmax: 0, add: nil)
        case .float(let s, let lo, let hi):
            scales = Self.copy(s)
            precondition(residualAdd == nil, "internal: residual Add on a float output")
            self.output = ck_u8s8_output(mode: Int32(CK_U8S8_OUT_F32), scale: scales, zero_point: 0, lo: 0, hi: 0, fmin: lo, fmax: hi, add: nil)
        }
    }

    deinit {
        packed.deallocate()
        params.deallocate()
        bias?.deallocate()
        scales.deallocate()
    }

    /// `values` copied into memory of their own (at least one element, so never a null pointer).
    private static func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let memory = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { memory.initialize(from: base, count: values.count) } }
        return memory
    }

    /// Output pixels `pixels` of one image; `output` holds u8 codes or floats per the output mode.
    /// `residual` (laid out like the output) is required exactly when the kernel fuses an Add.
    public func run(input: UnsafePointer<UInt8>, output out: UnsafeMutableRawPointer, residual: UnsafePointer<UInt8>? = nil,
                    pixels: Range<Int>, scratch: UnsafeMutableRawPointer?) {
        guard !pixels.isEmpty else { return }
        precondition((residual != nil) == (residualAdd != nil), "internal: residual tensor and fused Add disagree")
        let lo = pixels.lowerBound, hi = pixels.upperBound
        var add = ck_u8s8_residual_add(residual: residual, ma: residualAdd?.ma ?? 0, mb: residualAdd?.mb ?? 0, c: residualAdd?.constant ?? 0,
                                       lo: residualAdd?.lo ?? 0, hi: residualAdd?.hi ?? 0, conv_is_b: residualAdd?.convolutionIsSecond == true ? 1 : 0)
        withUnsafePointer(to: &add) { addPointer in
            var stage = output
            stage.add = residual == nil ? nil : addPointer
            let k = isa.kernels.pointee
            switch variant {
            case .smallGroups: k.gconv2d_u8s8(params, input, packed, bias, &stage, out, lo, hi)
            case .depthwise: k.dwconv2d_u8s8(params, input, packed, bias, &stage, out, lo, hi)
            case .gemm: k.conv2d_u8s8(params, input, packed, bias, &stage, out, lo, hi, scratch)
            }
        }
    }
}
