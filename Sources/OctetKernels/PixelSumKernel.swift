import CKernels

/// Per-channel sums of u8 codes over consecutive NHWC pixels on the C kernels: what an INT8
/// average pool adds up for each window row (a global average pool: the whole map at once).
/// The sums are exact integers on every path; `ck_sum_pixels_u8__scalar` is the specification.
public enum PixelSumKernel {
    /// `sums[c] += x[p·channels + c]` for `p < pixels`, `c < channels`, on `isa`'s kernel.
    public static func add(_ x: UnsafePointer<UInt8>, pixels: Int, channels: Int, into sums: UnsafeMutablePointer<Int32>, isa: ISA) {
        isa.kernels.pointee.sum_pixels_u8(x, pixels, channels, sums)
    }
}
