import CKernels

/// `out[2i] = a[i], out[2i + 1] = b[i]`: two runs of u8 codes interleaved, the inner step of a
/// channel shuffle of two groups (a ShuffleNet's Reshape–Transpose–Reshape) on the C kernels.
/// Data movement only: every path gives the same bytes; the scalar loop is the specification.
public enum InterleaveKernel {
    public static func run(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, count: Int, isa: ISA) {
        isa.kernels.pointee.interleave2_u8(a, b, output, count)
    }
}
