import CKernels

/// The product of two quantized tensors on the C kernels:
/// `clamp(rne(float((a − za)·(b − zb)) · m + float(zy)) + offset, lo, hi)` per element (ONNX
/// Runtime's QLinearMul arithmetic; `zy` the file's zero point, signed for int8 codes, which run
/// shifted by `offset` 128), the second operand either of the same shape or one row of `channels`
/// broadcast over the pixels (a squeeze-excitation's gate). The integer product is exact
/// (|·| ≤ 255²); the spec is `Int8Arithmetic.product`.
public enum QuantizedMulKernel {
    public static func run(_ a: UnsafePointer<UInt8>, zeroA: Int32, _ b: UnsafePointer<UInt8>, zeroB: Int32, broadcastB: Bool,
                           multiplier m: Float, zeroOut: Int32, codeOffset: Int32 = 0, lo: Int32, hi: Int32,
                           output: UnsafeMutablePointer<UInt8>, pixels: Int, channels: Int, isa: ISA) {
        let stride = broadcastB ? 0 : channels
        isa.kernels.pointee.qmul_u8(a, zeroA, b, zeroB, stride, m, zeroOut, codeOffset, lo, hi, output, pixels, channels)
    }
}
