import CKernels

/// Max pooling of u8 codes over one NHWC image: the max over each window's taps inside the
/// image (0 for a window entirely in the padding). The max of codes is the code of the max
/// whenever input and output share quantization parameters, which is when the INT8 plan uses it.
public enum QuantizedMaxPoolKernel {
    public static func run(_ window: Pool2DKernel, input: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>) {
        var p = ck_pool2d_params(in_h: window.inHeight, in_w: window.inWidth, channels: window.channels,
                                 out_h: window.outHeight, out_w: window.outWidth, kernel_h: window.kernel.h, kernel_w: window.kernel.w,
                                 stride_h: window.stride.h, stride_w: window.stride.w, dilation_h: window.dilation.h,
                                 dilation_w: window.dilation.w, pad_top: window.padTop, pad_left: window.padLeft, count_include_pad: 0)
        window.isa.kernels.pointee.maxpool2d_u8(&p, input, output)
    }
}
