import CKernels

/// The two passes of Pillow's antialiased resampling of 8-bit images (libImaging/Resample.c) on
/// the C kernels: each output byte is `clip8((2^21 + Σ wᵢ·pᵢ) >> 22)` with 22-bit fixed-point
/// weights, in wrapping 32-bit arithmetic. Integer only, so every path gives the scalar twin's
/// bytes; `Resampler` (OctetData) builds the taps and keeps the plain specification.
public enum ResampleKernel {
    /// The horizontal pass over `rows` rows of RGB pixels: output pixel x of a row reads `taps`
    /// pixels from `start[x]`, tap i weighted by `weights[i * outPixels + x]` (tap-major, so a
    /// tap of consecutive outputs is one load). Starts must not decrease and
    /// `start[x] + taps ≤ rowPixels`.
    public static func rows(_ src: UnsafePointer<UInt8>, rows: Int, rowPixels: Int, srcStride: Int,
                            start: UnsafePointer<Int32>, weights: UnsafePointer<Int32>, taps: Int, outPixels: Int,
                            into output: UnsafeMutablePointer<UInt8>, outStride: Int, isa: ISA) {
        var p = ck_resample_rows_params(rows: rows, row_pixels: rowPixels, src_stride: srcStride, out_stride: outStride,
                                        out_pixels: outPixels, taps: taps, start: start, weights: weights)
        isa.kernels.pointee.resample_rows_rgb8(&p, src, output)
    }

    /// The vertical pass for one output row: `count` bytes, each the weighted sum of the bytes
    /// at the same offset in `taps` source rows `stride` bytes apart.
    public static func column(_ src: UnsafePointer<UInt8>, stride: Int, weights: UnsafePointer<Int32>, taps: Int, count: Int,
                              into output: UnsafeMutablePointer<UInt8>, isa: ISA) {
        isa.kernels.pointee.resample_column_u8(src, stride, weights, taps, count, output)
    }
}
