import CKernels

/// Elementwise quantization on the C kernels: float → u8 (`QuantParams.quantize`) and u8 → u8
/// with new parameters (`Int8Arithmetic.requantize`), bit-identical on every path.
public enum QuantizeKernel {
    public static func quantize(_ x: UnsafePointer<Float>, scale: Float, zeroPoint: Int32, output: UnsafeMutablePointer<UInt8>,
                                count: Int, isa: ISA) {
        switch isa {
        case .avx512vnni, .avx512: ck_quantize_u8__avx512(x, scale, zeroPoint, output, count)
        case .avx2, .avxvnni: ck_quantize_u8__avx2(x, scale, zeroPoint, output, count)
        case .scalar: ck_quantize_u8__scalar(x, scale, zeroPoint, output, count)
        }
    }

    public static func requantize(_ x: UnsafePointer<UInt8>, zeroIn: Int32, multiplier: Float, zeroOut: Int32,
                                  output: UnsafeMutablePointer<UInt8>, count: Int, isa: ISA) {
        switch isa {
        case .avx512vnni, .avx512: ck_requantize_u8__avx512(x, zeroIn, multiplier, zeroOut, output, count)
        case .avx2, .avxvnni: ck_requantize_u8__avx2(x, zeroIn, multiplier, zeroOut, output, count)
        case .scalar: ck_requantize_u8__scalar(x, zeroIn, multiplier, zeroOut, output, count)
        }
    }
}
