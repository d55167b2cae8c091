import CKernels

/// Max or average pooling over one NHWC image, or global average pooling.
public struct Pool2DKernel: Sendable {
    public enum Kind: Sendable, Hashable { case max, average(countIncludePad: Bool), globalAverage }

    public let kind: Kind
    public let isa: ISA
    public var inHeight: Int, inWidth: Int, channels: Int
    public var outHeight: Int, outWidth: Int
    public var kernel: (h: Int, w: Int), stride: (h: Int, w: Int), dilation: (h: Int, w: Int)
    public var padTop: Int, padLeft: Int

    public init(kind: Kind, isa: ISA, inHeight: Int, inWidth: Int, channels: Int, outHeight: Int, outWidth: Int,
                kernel: (h: Int, w: Int), stride: (h: Int, w: Int), dilation: (h: Int, w: Int) = (1, 1),
                padTop: Int, padLeft: Int) {
        self.kind = kind; self.isa = isa
        self.inHeight = inHeight; self.inWidth = inWidth; self.channels = channels
        self.outHeight = outHeight; self.outWidth = outWidth
        self.kernel = kernel; self.stride = stride; self.dilation = dilation
        self.padTop = padTop; self.padLeft = padLeft
    }

    /// Global average pooling of an `inHeight × inWidth × channels` image to `channels` values.
    public static func globalAverage(isa: ISA, inHeight: Int, inWidth: Int, channels: Int) -> Pool2DKernel {
        Pool2DKernel(kind: .globalAverage, isa: isa, inHeight: inHeight, inWidth: inWidth, channels: channels,
                     outHeight: 1, outWidth: 1, kernel: (inHeight, inWidth), stride: (1, 1), padTop: 0, padLeft: 0)
    }

    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let k = isa.kernels.pointee
        var p = ck_pool2d_params(in_h: inHeight, in_w: inWidth, channels: channels, out_h: outHeight, out_w: outWidth,
                                 kernel_h: kernel.h, kernel_w: kernel.w, stride_h: stride.h, stride_w: stride.w,
                                 dilation_h: dilation.h, dilation_w: dilation.w, pad_top: padTop, pad_left: padLeft,
                                 count_include_pad: 0)
        switch kind {
        case .max:
            k.maxpool2d_f32(&p, input, output)
        case .average(let include):
            p.count_include_pad = include ? 1 : 0
            k.avgpool2d_f32(&p, input, output)
        case .globalAverage:
            k.global_avgpool_f32(inHeight * inWidth, channels, input, output)
        }
    }
}
