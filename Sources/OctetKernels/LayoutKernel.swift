import CKernels

/// Layout conversions of one float image.
public enum LayoutKernel {
    /// NCHW (`channels` planes of `pixels` floats) to NHWC. Pure data movement: every path
    /// gives the same bytes.
    public static func nchwToNHWC(_ src: UnsafePointer<Float>, channels: Int, pixels: Int, into dst: UnsafeMutablePointer<Float>, isa: ISA) {
        isa.kernels.pointee.nchw_to_nhwc_f32(src, channels, pixels, dst)
    }
}

extension LayoutKernel {
    /// Transposes a `rows`×`cols` row-major matrix into `dst` (`cols`×`rows`), in cache tiles.
    /// NHWC to NCHW is `rows` = pixels, `cols` = channels. Pure data movement.
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        ck_transpose_f32(rows, cols, src, dst)
    }
}

extension LayoutKernel {
    /// Copies `rows` runs of `count` floats between strided rows (a channel range of NHWC pixels).
    public static func copyRows(_ rows: Int, count: Int, from src: UnsafePointer<Float>, stride srcStride: Int,
                                into dst: UnsafeMutablePointer<Float>, stride dstStride: Int) {
        ck_copy_rows_f32(rows, count, src, srcStride, dst, dstStride)
    }

    /// ShuffleNet's channel shuffle on NHWC pixels: output channel j·groups + i is input channel
    /// i·channelsPerGroup + j (Reshape to [g, C/g], Transpose, Reshape back).
    public static func channelShuffle(_ src: UnsafePointer<Float>, pixels: Int, groups: Int, channelsPerGroup: Int,
                                      into dst: UnsafeMutablePointer<Float>) {
        ck_channel_shuffle_f32(pixels, groups, channelsPerGroup, src, dst)
    }
}
