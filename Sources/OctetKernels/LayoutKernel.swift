import CKernels

/// Layout conversions of one float image.
public enum LayoutKernel {
    /// NCHW (`channels` planes of `pixels` floats) to NHWC. Pure data movement: every path
    /// gives the same bytes.
    public static func nchwToNHWC(_ src: UnsafePointer<Float>, channels: Int, pixels: Int, into dst: UnsafeMutablePointer<Float>, isa: ISA) {
        switch isa {
        case .avx512vnni, .avx512: ck_nchw_to_nhwc_f32__avx512(src, channels, pixels, dst)
        case .avx2, .scalar: ck_nchw_to_nhwc_f32__scalar(src, channels, pixels, dst)
        }
    }
}

extension LayoutKernel {
    /// Transposes a `rows`×`cols` row-major matrix into `dst` (`cols`×`rows`), in cache tiles.
    /// NHWC to NCHW is `rows` = pixels, `cols` = channels. Pure data movement.
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        ck_transpose_f32(rows, cols, src, dst)
    }
}
