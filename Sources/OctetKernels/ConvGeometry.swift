import CKernels

/// Shape of one 2-D convolution over a single NHWC image, as the kernels see it.
public struct ConvGeometry: Hashable, Sendable {
    public var inHeight: Int, inWidth: Int, inPixelStride: Int
    public var outHeight: Int, outWidth: Int, outPixelStride: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)
    public var padTop: Int, padLeft: Int
    public var groups: Int, inChannelsPerGroup: Int, outChannelsPerGroup: Int

    public init(inHeight: Int, inWidth: Int, inPixelStride: Int, outHeight: Int, outWidth: Int, outPixelStride: Int,
                kernel: (h: Int, w: Int), stride: (h: Int, w: Int) = (1, 1), dilation: (h: Int, w: Int) = (1, 1),
                padTop: Int = 0, padLeft: Int = 0, groups: Int = 1, inChannelsPerGroup: Int, outChannelsPerGroup: Int) {
        self.inHeight = inHeight; self.inWidth = inWidth; self.inPixelStride = inPixelStride
        self.outHeight = outHeight; self.outWidth = outWidth; self.outPixelStride = outPixelStride
        self.kernel = kernel; self.stride = stride; self.dilation = dilation
        self.padTop = padTop; self.padLeft = padLeft
        self.groups = groups; self.inChannelsPerGroup = inChannelsPerGroup; self.outChannelsPerGroup = outChannelsPerGroup
    }

    public var outPixels: Int { outHeight * outWidth }
    public var outChannels: Int { groups * outChannelsPerGroup }
    public var isDepthwise: Bool { inChannelsPerGroup == 1 && outChannelsPerGroup == 1 && groups > 1 }
    /// Multiply-accumulates for one image.
    public var macs: Int { outPixels * outChannels * inChannelsPerGroup * kernel.h * kernel.w }

    func params(min: Float, max: Float) -> ck_conv2d_f32_params {
        ck_conv2d_f32_params(
            in_h: inHeight, in_w: inWidth, in_pixel_stride: inPixelStride,
            out_h: outHeight, out_w: outWidth, out_pixel_stride: outPixelStride,
            kernel_h: kernel.h, kernel_w: kernel.w, stride_h: stride.h, stride_w: stride.w,
            dilation_h: dilation.h, dilation_w: dilation.w, pad_top: padTop, pad_left: padLeft,
            groups: groups, cin_per_group: inChannelsPerGroup, cout_per_group: outChannelsPerGroup,
            act_min: min, act_max: max)
    }

    public static func == (a: ConvGeometry, b: ConvGeometry) -> Bool {
        a.inHeight == b.inHeight && a.inWidth == b.inWidth && a.inPixelStride == b.inPixelStride
            && a.outHeight == b.outHeight && a.outWidth == b.outWidth && a.outPixelStride == b.outPixelStride
            && a.kernel == b.kernel && a.stride == b.stride && a.dilation == b.dilation
            && a.padTop == b.padTop && a.padLeft == b.padLeft && a.groups == b.groups
            && a.inChannelsPerGroup == b.inChannelsPerGroup && a.outChannelsPerGroup == b.outChannelsPerGroup
    }

    public func hash(into h: inout Hasher) {
        for v in [inHeight, inWidth, inPixelStride, outHeight, outWidth, outPixelStride, kernel.h, kernel.w,
                  stride.h, stride.w, dilation.h, dilation.w, padTop, padLeft, groups, inChannelsPerGroup, outChannelsPerGroup] {
            h.combine(v)
        }
    }
}
