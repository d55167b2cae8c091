import CKernels

/// Softmax over the middle axis of `[outer, n, inner]` row-major floats on the C kernels: the
/// max of each row (NaN ignored), e^(x − max) by the polynomial the sigmoid kernels use, the
/// terms summed in order and divided by the sum. Every path gives the scalar twin's bits, so a
/// calibration's softmax outputs do not depend on the CPU. The SIMD paths put inner positions
/// side by side in the lanes (a channel softmax of an image), or run along a row when inner is 1.
public enum SoftmaxKernel {
    /// The implementations; each gives the scalar twin's results.
    public typealias Variant = VectorVariant

    /// `y` may be `x`.
    public static func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int, isa: ISA) {
        isa.kernels.pointee.softmax_f32(x, y, outer, n, inner)
    }

    /// With one variant forced (tests compare them).
    public static func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int, variant: Variant) {
        switch variant {
        case .scalar: ck_softmax_f32__scalar(x, y, outer, n, inner)
        case .avx2: ck_softmax_f32__avx2(x, y, outer, n, inner)
        case .avx512: ck_softmax_f32__avx512(x, y, outer, n, inner)
        }
    }
}
