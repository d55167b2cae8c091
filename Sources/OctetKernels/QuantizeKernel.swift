import CKernels

/// Elementwise quantization on the C kernels: float → u8 (`QuantParams.quantize`) and u8 → u8
/// with new parameters (`Int8Arithmetic.requantize`), bit-identical on every path.
public enum QuantizeKernel {
    public static func quantize(_ x: UnsafePointer<Float>, scale: Float, zeroPoint: Int32, output: UnsafeMutablePointer<UInt8>,
                                count: Int, isa: ISA) {
        isa.kernels.pointee.quantize_u8(x, scale, zeroPoint, output, count)
    }

    /// `quantize` with a scale per channel: `pixels` rows of `scales.count` floats (NHWC), one
    /// zero point (the per-channel codes of NNCF's depthwise inputs).
    public static func quantizeChannels(_ x: UnsafePointer<Float>, scales: [Float], zeroPoint: Int32, output: UnsafeMutablePointer<UInt8>,
                                        pixels: Int, isa: ISA) {
        isa.kernels.pointee.quantize_channels_u8(x, scales, zeroPoint, output, pixels, scales.count)
    }

    public static func requantize(_ x: UnsafePointer<UInt8>, zeroIn: Int32, multiplier: Float, zeroOut: Int32,
                                  output: UnsafeMutablePointer<UInt8>, count: Int, isa: ISA) {
        isa.kernels.pointee.requantize_u8(x, zeroIn, multiplier, zeroOut, output, count)
    }
}
