import OctetCore
import OctetKernels

/// A float activation and a quantization fused after a convolution's float output (NNCF's Conv →
/// HardSwish → QuantizeLinear, `Int8Compiler.lowerAsConvEpilogue`): each block of rows the
/// convolution writes as floats is run through `activation` (`ActivationKernel`) and quantized into
/// `dst` (`QuantizeKernel`, one scale or one per output channel) while it is in cache; the float
/// tensor is only that block's scratch. The float island and quantize step it replaces run the
/// same kernels, so it writes the same codes.
struct FloatEpilogue {
    var activation: ActivationKernel.Kind
    /// One scale, or one per output channel.
    var scales: [Float]
    var zeroPoint: Int32
    /// The u8 slot of the codes.
    var dst: Int
    /// The island's ops, for the profile.
    var label: String

    /// Output pixels per block: about 64 KiB of floats, so a block stays in L2 between the
    /// convolution writing it and the epilogue reading it.
    static func blockPixels(channels: Int) -> Int { max(16, 16384 / max(channels, 1)) }

    /// `pixels` rows of `channels` floats at `floats` (overwritten by the activation) to codes at
    /// `codes`; `isa` nil runs the specifications (the scalar twin, `QuantParams.quantize`).
    func apply(_ floats: UnsafeMutablePointer<Float>, _ codes: UnsafeMutablePointer<UInt8>, pixels: Int, channels: Int, isa: ISA?) {
        let count = pixels * channels
        guard count > 0 else { return }
        // Islands run the best FP32 kernels; every path gives the scalar twin's bits.
        ActivationKernel(activation, isa: isa == nil ? .scalar : .best).run(floats, floats, count: count)
        guard let isa else {
            for i in 0..<count {
                codes[i] = QuantParams(scale: scales[scales.count == 1 ? 0 : i % channels], zeroPoint: zeroPoint, dtype: .uint8).quantize(floats[i])
            }
            return
        }
        if scales.count == 1 {
            QuantizeKernel.quantize(floats, scale: scales[0], zeroPoint: zeroPoint, output: codes, count: count, isa: isa)
        } else {
            QuantizeKernel.quantizeChannels(floats, scales: scales, zeroPoint: zeroPoint, output: codes, pixels: pixels, isa: isa)
        }
    }
}
