import CKernels

/// The INT8 residual Add on the C kernels: `clamp(rne(fma(a, M_a, fma(b, M_b, c))), lo, hi)`,
/// ONNX Runtime's QLinearAdd formula (the spec is `Int8Arithmetic.add`). Every path gives the
/// same bytes; the SIMD ones do 16 (AVX-512) or 8 (AVX2) elements per instruction.
public enum QuantizedAddKernel {
    public static func run(_ a: UnsafePointer<UInt8>, _ ma: Float, _ b: UnsafePointer<UInt8>, _ mb: Float, constant c: Float,
                           lo: Int32, hi: Int32, output: UnsafeMutablePointer<UInt8>, count: Int, isa: ISA) {
        isa.kernels.pointee.qadd_u8(a, ma, b, mb, c, lo, hi, output, count)
    }
}
