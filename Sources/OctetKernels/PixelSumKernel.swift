import CKernels

/// Per-channel sums of u8 codes over consecutive NHWC pixels on the C kernels: what an INT8
/// average pool adds up for each window row (a global average pool: the whole map at once).
/// The sums are exact integers on every path; `ck_sum_pixels_u8__scalar` is the specification.
public enum PixelSumKernel {
    /// `sums[c] += x[p·channels + c]` for `p < pixels`, `c < channels`, on `isa`'s kernel.
    public static func add(_ x: UnsafePointer<UInt8>, pixels: Int, channels: Int, into sums: UnsafeMutablePointer<Int32>, isa: ISA) {
        isa.kernels.pointee.sum_pixels_u8(x, pixels, channels, sums)
    }

    /// A global average pool of codes requantized to codes, in one pass on `isa`'s kernel: per
    /// channel `clamp(rne(Float(Σₚ x − pixels·zeroIn) · m) + zeroOut, 0, 255)` in wrapping Int32,
    /// the arithmetic of `Int8Arithmetic.requantize` on the sums `add` gives
    /// (`ck_mean_pixels_u8__scalar` is the specification).
    public static func mean(_ x: UnsafePointer<UInt8>, pixels: Int, channels: Int, zeroIn: Int32, multiplier m: Float, zeroOut: Int32,
                            into out: UnsafeMutablePointer<UInt8>, isa: ISA) {
        isa.kernels.pointee.mean_pixels_u8(x, pixels, channels, zeroIn, m, zeroOut, out)
    }
}
